"""The Ray plugin as a package: how runners are named and found, its public surface, its
objects before any Ray starts."""

from __future__ import annotations

import pickle
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

import taskloom_ray
from ray_clusters import ray_environment
from taskloom import flow
from taskloom._registry import resolve_task_runner
from taskloom.exceptions import TaskRunnerError
from taskloom_ray import RayTaskRunner, _session


def test_the_public_names_are_the_runner_and_remote_options() -> None:
    assert sorted(taskloom_ray.__all__) == ["RayTaskRunner", "remote_options"]


@pytest.mark.parametrize("name", ["ray", "Ray", "RayTaskRunner"])
def test_the_runner_is_registered_by_name(name: str) -> None:
    runner = resolve_task_runner(name)
    assert isinstance(runner, RayTaskRunner)
    assert runner.address is None


def test_the_runner_class_imports_from_taskloom_task_runners() -> None:
    from taskloom.task_runners import RayTaskRunner as Imported

    assert Imported is RayTaskRunner


def test_a_ray_address_is_claimed_by_the_ray_runner() -> None:
    runner = resolve_task_runner("ray://127.0.0.1:10001")
    assert isinstance(runner, RayTaskRunner)
    assert runner.address == "ray://127.0.0.1:10001"


def test_a_flow_given_a_ray_address_gets_a_ray_runner() -> None:
    @flow(task_runner="ray://127.0.0.1:10001")
    def on_a_cluster() -> None:
        pass

    assert isinstance(on_a_cluster.task_runner, RayTaskRunner)


def test_the_hook_leaves_other_addresses_alone() -> None:
    from taskloom_ray._hooks import taskloom_resolve_task_runner

    assert taskloom_resolve_task_runner(spec="tcp://127.0.0.1:8786") is None


@pytest.mark.parametrize("module", ["taskloom_ray", "taskloom_ray._hooks"])
def test_importing_the_plugin_does_not_import_ray(module: str) -> None:
    code = f"import sys, {module}; print('ray' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], env=ray_environment(), capture_output=True, text=True
    )
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize(
    "kwargs",
    [{"address": 10001}, {"address": " "}, {"init_kwargs": ["num_cpus"]}],
    ids=["address-not-a-string", "blank-address", "init-kwargs-not-a-mapping"],
)
def test_bad_arguments_are_a_type_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        RayTaskRunner(**kwargs)


def test_the_address_goes_to_the_runner_not_to_init_kwargs() -> None:
    with pytest.raises(TypeError, match="address="):
        RayTaskRunner(init_kwargs={"address": "ray://127.0.0.1:10001"})


def test_a_duplicate_has_the_same_configuration_and_is_not_started() -> None:
    runner = RayTaskRunner("ray://127.0.0.1:10001", {"namespace": "a"})
    copy = runner.duplicate()
    assert (copy.address, copy.init_kwargs, copy.started) == (
        "ray://127.0.0.1:10001",
        {"namespace": "a"},
        False,
    )


def test_a_pickled_unstarted_runner_arrives_unstarted_with_its_options() -> None:
    runner = RayTaskRunner("ray://127.0.0.1:10001", {"num_cpus": 1})
    copy = pickle.loads(pickle.dumps(runner))
    assert not copy.started
    assert copy == runner


def test_a_pickled_started_runner_arrives_started_and_owning_nothing() -> None:
    sent = RayTaskRunner("ray://127.0.0.1:10001")
    sent._started = True  # as it is while its flow run submits (no cluster needed here)
    runner = pickle.loads(pickle.dumps(sent))
    assert runner.started
    assert runner.address == "ray://127.0.0.1:10001"
    runner.shutdown()  # leaves the Ray of the process it arrived in alone
    assert not runner.started


class FakeRay:
    """Stands in for the `ray` module where a test only needs `ray.init` to answer."""

    def __init__(self, dashboard_url: str) -> None:
        self.dashboard_url = dashboard_url
        self.initialised = False

    def is_initialized(self) -> bool:
        return self.initialised

    def init(self, **kwargs: Any) -> Any:
        self.initialised = True
        return SimpleNamespace(dashboard_url=self.dashboard_url)

    def shutdown(self) -> None:
        self.initialised = False


@pytest.mark.parametrize(
    ("dashboard_url", "line"),
    [
        ("127.0.0.1:8265", "The Ray dashboard is available at http://127.0.0.1:8265"),
        ("", None),
    ],
    ids=["with-dashboard", "without-dashboard"],
)
def test_the_dashboard_link_is_logged_when_ray_has_one(
    dashboard_url: str, line: str | None, monkeypatch: pytest.MonkeyPatch, taskloom_log: Any
) -> None:
    fake = FakeRay(dashboard_url)
    monkeypatch.setattr(_session, "import_ray", lambda: fake)
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setattr(_session, "_cluster_mode_off", lambda loopback: _nothing())
    # Not waiting for workers' output at shutdown: the fake has no workers.
    runner = RayTaskRunner(init_kwargs={"log_to_driver": False})
    runner.start()
    runner.shutdown()
    dashboard_lines = [m for m in taskloom_log.messages if "dashboard" in m]
    assert dashboard_lines == ([line] if line else [])


def _nothing() -> Any:
    import contextlib

    return contextlib.nullcontext()


def test_the_package_pins_ray_with_its_client_and_needs_no_other_runner_package() -> None:
    from importlib.metadata import requires

    requirements = requires("taskloom-ray") or []
    assert "taskloom==0.1.0" in requirements
    assert not [r for r in requirements if r.startswith(("taskloom-local", "taskloom-dask"))]
    assert "ray[client]==2.60.0" in requirements


def test_the_package_is_typed() -> None:
    from importlib.resources import files

    assert files("taskloom_ray").joinpath("py.typed").is_file()


def _client_runner_whose_ray_init_is(init: Any, monkeypatch: pytest.MonkeyPatch) -> RayTaskRunner:
    """A runner for a `ray://` address, on a fake Ray whose `init` is `init(fake.init, ...)`."""
    fake = FakeRay("")
    succeed = fake.init
    monkeypatch.setattr(fake, "init", lambda **kwargs: init(succeed, **kwargs))
    monkeypatch.setattr(_session, "import_ray", lambda: fake)
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setattr(_session, "check_reachable", lambda address: None)
    return RayTaskRunner("ray://127.0.0.1:10001", {"log_to_driver": False})


CLIENT_SERVER_FAILURES = {
    "reported": "Starting Ray client server failed. See the logs.",
    "seen dying": "Initialization failure from server:\nTraceback (most recent call last):\n"
    '  File "proxier.py", line 396, in start_specific_server\n'
    "psutil.ZombieProcess: PID still exists but it's a zombie (pid=2907)",
}


@pytest.mark.parametrize("message", CLIENT_SERVER_FAILURES.values(), ids=CLIENT_SERVER_FAILURES)
def test_a_connection_whose_ray_client_server_failed_to_start_is_tried_again(
    monkeypatch: pytest.MonkeyPatch, taskloom_log: Any, message: str
) -> None:
    failures = [ConnectionAbortedError(message)]

    def init(succeed: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return succeed(**kwargs)

    runner = _client_runner_whose_ray_init_is(init, monkeypatch)
    runner.start()
    runner.shutdown()
    assert not failures
    assert any("connecting again" in m for m in taskloom_log.messages)


def test_a_connection_refused_for_another_reason_is_tried_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts: list[dict[str, Any]] = []

    def init(succeed: Any, **kwargs: Any) -> Any:
        attempts.append(kwargs)
        raise ConnectionAbortedError("Initialization failure from server: version mismatch")

    runner = _client_runner_whose_ray_init_is(init, monkeypatch)
    with pytest.raises(TaskRunnerError, match="version mismatch"):
        runner.start()
    assert len(attempts) == 1
