"""The Dask plugin as a package: how its runners are found (names, class names, addresses, the
older executor names), its public surface and what it installs."""

from __future__ import annotations

import subprocess
import sys

import pytest

import taskloom_dask
from taskloom import flow
from taskloom.exceptions import UnknownTaskRunnerError
from taskloom_dask import DaskTaskRunner, LocalDaskTaskRunner


def runner_of(spec: object) -> object:
    @flow(task_runner=spec)  # type: ignore[call-overload]
    def configured() -> None:
        pass

    return configured.task_runner


@pytest.mark.parametrize(
    ("spec", "cls"),
    [
        ("dask", DaskTaskRunner),
        ("DASK", DaskTaskRunner),
        ("DaskTaskRunner", DaskTaskRunner),
        ("local-dask", LocalDaskTaskRunner),
        ("LocalDaskTaskRunner", LocalDaskTaskRunner),
        (DaskTaskRunner, DaskTaskRunner),
        (LocalDaskTaskRunner, LocalDaskTaskRunner),
    ],
)
def test_runner_names_and_classes_resolve(spec: object, cls: type) -> None:
    assert type(runner_of(spec)) is cls


def test_a_named_runner_has_its_defaults() -> None:
    runner = runner_of("dask")
    assert isinstance(runner, DaskTaskRunner)
    assert runner.address is None


@pytest.mark.parametrize(
    ("spec", "address"),
    [
        ("tcp://127.0.0.1:8786", "tcp://127.0.0.1:8786"),
        ("dask://127.0.0.1:8786", "tcp://127.0.0.1:8786"),
        ("TCP://127.0.0.1:8786", "tcp://127.0.0.1:8786"),
        ("tls://127.0.0.1:8786", "tls://127.0.0.1:8786"),
    ],
)
def test_a_scheduler_address_means_an_existing_cluster(spec: str, address: str) -> None:
    runner = runner_of(spec)
    assert isinstance(runner, DaskTaskRunner)
    assert runner.address == address


def test_the_environment_variable_can_hold_an_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKLOOM_TASK_RUNNER", "tcp://127.0.0.1:8786")
    runner = runner_of(None)
    assert isinstance(runner, DaskTaskRunner)
    assert runner.address == "tcp://127.0.0.1:8786"


def test_an_address_of_another_scheme_is_not_claimed() -> None:
    with pytest.raises(UnknownTaskRunnerError):
        runner_of("udp://127.0.0.1:8786")


def test_the_dask_alias_becomes_a_tcp_address_on_the_runner_too() -> None:
    assert DaskTaskRunner(address="dask://127.0.0.1:8786").address == "tcp://127.0.0.1:8786"


def test_runner_classes_import_from_the_core_and_the_older_names() -> None:
    from taskloom.executors import DaskExecutor, LocalDaskExecutor
    from taskloom.task_runners import DaskTaskRunner as FromCore
    from taskloom.task_runners import LocalDaskTaskRunner as LocalFromCore

    assert FromCore is DaskExecutor is DaskTaskRunner
    assert LocalFromCore is LocalDaskExecutor is LocalDaskTaskRunner


def test_importing_the_package_and_its_hooks_imports_no_dask() -> None:
    code = (
        "import sys, taskloom_dask, taskloom_dask._hooks;"
        "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_address_and_cluster_settings_together_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        DaskTaskRunner(address="tcp://127.0.0.1:8786", cluster_kwargs={"n_workers": 1})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"address": 8786},
        {"cluster_kwargs": ["n_workers"]},
        {"client_kwargs": "timeout=1"},
        {"cluster_class": 42},
    ],
)
def test_arguments_of_the_wrong_type_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(TypeError):
        DaskTaskRunner(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"scheduler": "gpu"}, {"scheduler": None}])
def test_an_unknown_local_scheduler_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="threads"):
        LocalDaskTaskRunner(**kwargs)  # type: ignore[arg-type]


def test_local_scheduler_names_follow_dask() -> None:
    assert LocalDaskTaskRunner("multiprocessing").scheduler == "processes"
    assert LocalDaskTaskRunner("sync").scheduler == "synchronous"
    assert LocalDaskTaskRunner("threading").scheduler == "threads"


def test_duplicates_keep_the_configuration() -> None:
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": 3}, adapt_kwargs={"maximum": 4})
    copy = runner.duplicate()
    assert (copy.cluster_kwargs, copy.adapt_kwargs) == ({"n_workers": 3}, {"maximum": 4})
    local = LocalDaskTaskRunner("processes", num_workers=3).duplicate()
    assert (local.scheduler, local.num_workers) == ("processes", 3)


def test_the_public_names_are_the_two_runners() -> None:
    assert sorted(taskloom_dask.__all__) == ["DaskTaskRunner", "LocalDaskTaskRunner"]


def test_the_hook_leaves_other_addresses_alone() -> None:
    from taskloom_dask._hooks import taskloom_resolve_task_runner

    assert taskloom_resolve_task_runner(spec="ray://127.0.0.1:10001") is None
    assert taskloom_resolve_task_runner(spec="tcp://") is None


def test_the_package_pins_dask_and_needs_no_other_runner_package() -> None:
    from importlib.metadata import requires

    requirements = requires("taskloom-dask") or []
    assert not [r for r in requirements if r.startswith(("taskloom-local", "taskloom-ray"))]
    assert any(
        r.startswith("dask[") and "distributed" in r and "~=2026.8.0" in r for r in requirements
    )


def test_the_package_is_typed() -> None:
    from importlib.resources import files

    assert files("taskloom_dask").joinpath("py.typed").is_file()


def test_dask_runners_with_the_same_options_are_equal_and_hash_alike() -> None:
    assert DaskTaskRunner() == DaskTaskRunner()
    assert hash(DaskTaskRunner(cluster_kwargs={"n_workers": 2})) == hash(
        DaskTaskRunner(cluster_kwargs={"n_workers": 2})
    )


def test_dask_runners_with_different_options_differ() -> None:
    assert DaskTaskRunner(cluster_kwargs={"n_workers": 2}) != DaskTaskRunner()


def test_a_dask_runners_repr_shows_its_options() -> None:
    runner = DaskTaskRunner(address="tcp://127.0.0.1:8786", debug=True)
    assert repr(runner) == "DaskTaskRunner(address='tcp://127.0.0.1:8786', debug=True)"
