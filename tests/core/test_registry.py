"""Resolving `task_runner=`: instances, classes, names, class names, import paths, addresses,
the environment variable and the default; and the errors for everything else."""

from __future__ import annotations

import sys

import pytest

import taskloom
from taskloom import flow, hookimpl
from taskloom._registry import install_hint, resolve_task_runner
from taskloom.exceptions import UnknownTaskRunnerError
from taskloom.task_runners import TaskRunner
from taskloom.testing import InlineTaskRunner


def test_instance_is_used_as_given() -> None:
    runner = InlineTaskRunner()
    assert resolve_task_runner(runner) is runner


def test_class_is_instantiated_with_its_defaults() -> None:
    assert type(resolve_task_runner(InlineTaskRunner)) is InlineTaskRunner


def test_registered_name_resolves_to_its_class(fake_runners) -> None:
    assert type(resolve_task_runner("sequential")).__module__ == "fake_runners"
    assert type(resolve_task_runner("sequential")).__name__ == "SequentialTaskRunner"


@pytest.mark.parametrize("spelling", ["SEQUENTIAL", "Sequential", "  sequential "])
def test_names_are_case_insensitive(fake_runners, spelling: str) -> None:
    assert type(resolve_task_runner(spelling)).__name__ == "SequentialTaskRunner"


def test_hyphenated_name_resolves(fake_runners) -> None:
    assert type(resolve_task_runner("local-dask")).__name__ == "LocalDaskTaskRunner"


@pytest.mark.parametrize("spelling", ["DaskTaskRunner", "dasktaskrunner"])
def test_class_name_resolves_to_its_runner(fake_runners, spelling: str) -> None:
    assert type(resolve_task_runner(spelling)).__name__ == "DaskTaskRunner"


def test_import_path_resolves_without_an_entry_point(installation) -> None:
    assert type(resolve_task_runner("taskloom.testing:InlineTaskRunner")) is InlineTaskRunner


def test_import_path_that_does_not_import_is_unknown() -> None:
    with pytest.raises(UnknownTaskRunnerError, match="no_such_module"):
        resolve_task_runner("no_such_module:Runner")


def test_import_path_to_something_else_than_a_runner_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="not a TaskRunner subclass"):
        resolve_task_runner("taskloom.states:State")


def test_none_takes_the_environment_variable(installation, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKLOOM_TASK_RUNNER", "taskloom.testing:InlineTaskRunner")
    assert type(resolve_task_runner(None)) is InlineTaskRunner


def test_environment_variable_takes_names_too(
    fake_runners, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKLOOM_TASK_RUNNER", "Sequential")

    @flow
    def from_environment() -> None:
        pass

    assert type(from_environment.task_runner).__name__ == "SequentialTaskRunner"


def test_a_bad_environment_variable_is_an_error_naming_the_variable(
    fake_runners, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKLOOM_TASK_RUNNER", "nosuch")
    with pytest.raises(
        UnknownTaskRunnerError, match=r"^TASKLOOM_TASK_RUNNER='nosuch': .*Installed"
    ):
        resolve_task_runner(None)


def test_default_is_the_concurrent_runner(fake_runners) -> None:
    @flow
    def default() -> None:
        pass

    assert type(default.task_runner).__name__ == "ConcurrentTaskRunner"


def test_default_without_the_local_runners_asks_to_install_them(
    installation,
) -> None:
    with pytest.raises(UnknownTaskRunnerError, match="pip install taskloom-local"):
        resolve_task_runner(None)


@pytest.mark.parametrize("spec", [42, 4.2, object(), ["sequential"], TaskRunner.__init__])
def test_other_values_are_type_errors(spec: object) -> None:
    with pytest.raises(TypeError, match="task_runner must be"):
        resolve_task_runner(spec)


def test_a_class_that_is_not_a_runner_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="task_runner must be"):
        resolve_task_runner(dict)


def test_flow_with_a_number_as_task_runner_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        flow(task_runner=42)(lambda: None)  # type: ignore[call-overload]


# -- unknown and missing runners ----------------------------------------------------------------


def test_unknown_name_raises_a_lookup_error(fake_runners) -> None:
    with pytest.raises(LookupError):
        resolve_task_runner("nope")


def test_unknown_name_error_lists_the_installed_runners(fake_runners) -> None:
    with pytest.raises(UnknownTaskRunnerError) as raised:
        resolve_task_runner("nope")
    assert str(raised.value) == (
        "Unknown task runner 'nope'. "
        "Installed task runners: concurrent, dask, local-dask, sequential."
    )


@pytest.mark.parametrize(
    ("spec", "package"),
    [
        ("dask", "taskloom-dask"),
        ("local-dask", "taskloom-dask"),
        ("DaskTaskRunner", "taskloom-dask"),
        ("tcp://127.0.0.1:8786", "taskloom-dask"),
        ("ray", "taskloom-ray"),
        ("RayTaskRunner", "taskloom-ray"),
        ("ray://127.0.0.1:10001", "taskloom-ray"),
        ("processes", "taskloom-local"),
        ("sequential", "taskloom-local"),
    ],
)
def test_known_but_missing_runner_names_the_package_to_install(
    installation, spec: str, package: str
) -> None:
    folder = {"taskloom-dask": "dask-runner", "taskloom-ray": "ray-runner"}.get(
        package, "local-runners"
    )
    clone_line = rf"pip install {package} \(published packages\), or from a clone of taskloom: "
    with pytest.raises(
        UnknownTaskRunnerError,
        match=clone_line + rf"pip install \./core \./plugins/{folder} \(or a wheelhouse:",
    ):
        resolve_task_runner(spec)


def test_the_missing_plugin_hint_offers_the_wheelhouse_nox_builds() -> None:
    # The README's third way: `nox -s build` puts wheels of the four packages in dist/, from
    # which pip finds the core a plugin requires.
    assert install_hint("taskloom-dask").endswith(
        "(or a wheelhouse: nox -s build, then pip install --find-links dist taskloom-dask)"
    )


def test_unknown_address_lists_the_installed_runners(fake_runners) -> None:
    with pytest.raises(UnknownTaskRunnerError, match="Installed task runners: concurrent"):
        resolve_task_runner("mq://127.0.0.1:1")


# -- broken entry points ------------------------------------------------------------------------


@pytest.fixture
def broken_runner(fake_runners):
    fake_runners.add(
        "broken-runner",
        {"taskloom.task_runners": {"broken": "broken_runner:BrokenTaskRunner"}},
        {"broken_runner": "import no_such_engine_module\n"},
    )
    return fake_runners


def test_broken_entry_point_names_its_package_and_error(broken_runner) -> None:
    with pytest.raises(ImportError) as raised:
        resolve_task_runner("broken")
    message = str(raised.value)
    assert "broken-runner" in message
    assert "ModuleNotFoundError: No module named 'no_such_engine_module'" in message


def test_broken_entry_point_leaves_the_other_runners_working(
    broken_runner,
) -> None:
    with pytest.raises(ImportError):
        resolve_task_runner("broken")
    assert type(resolve_task_runner("sequential")).__name__ == "SequentialTaskRunner"
    assert "broken" in taskloom.available_task_runners()


def test_entry_point_to_a_non_runner_is_a_type_error(installation) -> None:
    installation.add(
        "odd-runner",
        {"taskloom.task_runners": {"odd": "odd_runner:NotARunner"}},
        {"odd_runner": "class NotARunner:\n    pass\n"},
    )
    with pytest.raises(TypeError, match="not a TaskRunner subclass"):
        resolve_task_runner("odd")


# -- addresses claimed by plugins ---------------------------------------------------------------


def test_address_claimed_by_an_entry_point_plugin(installation) -> None:
    installation.add(
        "queue-runner",
        {"taskloom": {"queue": "queue_hooks"}},
        {
            "queue_hooks": """
            from taskloom import hookimpl
            from taskloom.testing import InlineTaskRunner

            class QueueTaskRunner(InlineTaskRunner):
                def __init__(self, address=None):
                    super().__init__()
                    self.address = address

            @hookimpl
            def taskloom_resolve_task_runner(spec):
                if spec.startswith("queue://"):
                    return QueueTaskRunner(spec)
                return None
            """
        },
    )
    runner = resolve_task_runner("queue://127.0.0.1:5000")
    assert type(runner).__name__ == "QueueTaskRunner"
    assert runner.address == "queue://127.0.0.1:5000"  # type: ignore[attr-defined]


# -- listing and laziness -----------------------------------------------------------------------


def test_available_task_runners_maps_names_to_import_targets(
    fake_runners,
) -> None:
    assert taskloom.available_task_runners() == {
        "concurrent": "fake_runners:ConcurrentTaskRunner",
        "dask": "fake_runners:DaskTaskRunner",
        "local-dask": "fake_runners:LocalDaskTaskRunner",
        "sequential": "fake_runners:SequentialTaskRunner",
    }


def test_listing_runners_imports_none_of_them(fake_runners) -> None:
    taskloom.available_task_runners()
    assert "fake_runners" not in sys.modules


def test_resolving_one_runner_imports_only_its_module(installation) -> None:
    installation.add(
        "two-runners",
        {"taskloom.task_runners": {"one": "runner_one:One", "two": "runner_two:Two"}},
        {
            "runner_one": "from taskloom.testing import InlineTaskRunner as One\n",
            "runner_two": "from taskloom.testing import InlineTaskRunner as Two\n",
        },
    )
    resolve_task_runner("one")
    assert "runner_one" in sys.modules
    assert "runner_two" not in sys.modules


class _Claims:
    """A plugin that claims `host:port` and `fake://` addresses."""

    @hookimpl
    def taskloom_resolve_task_runner(self, spec: str) -> TaskRunner | None:
        if spec == "127.0.0.1:8786" or spec.startswith("fake://"):
            return InlineTaskRunner()
        return None

    @hookimpl
    def taskloom_address_schemes(self) -> list[str]:
        return ["fake://", "alsofake://"]


def test_host_and_port_go_to_the_plugins_not_to_an_import(register_plugin) -> None:
    register_plugin(_Claims())
    assert isinstance(resolve_task_runner("127.0.0.1:8786"), InlineTaskRunner)


def test_an_unclaimed_scheme_lists_the_accepted_ones_and_the_meant_address(
    register_plugin,
) -> None:
    register_plugin(_Claims())
    with pytest.raises(UnknownTaskRunnerError) as caught:
        resolve_task_runner("http://cluster-host")
    message = str(caught.value)
    assert "No installed runner takes http:// addresses" in message
    assert "fake://, alsofake://" in message
    assert "Did you mean 'fake://cluster-host'" in message
