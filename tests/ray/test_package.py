"""The Ray plugin as a package: how runners are named and found, its public surface, its
objects before any Ray starts."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

import taskloom_ray
from ray_clusters import ray_environment
from taskloom import flow
from taskloom._registry import resolve_task_runner
from taskloom.exceptions import TaskRunnerError
from taskloom_ray import RayTaskRunner, _connection, _session


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
    monkeypatch.setattr(_connection, "check_reachable", lambda address: None)
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


class StalledSetups:
    """Ray Client setups that wait until the runner gives them up (the first `count` of them),
    as one to a head whose GCS does not answer does; the others succeed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, count: int) -> None:
        self.count = count
        self.attempts = 0
        self.given_up = threading.Event()
        monkeypatch.setattr(_connection, "CLIENT_SETUP_SECONDS", 0.2)
        monkeypatch.setattr(_connection, "_give_up_client_setup", self._give_up)

    def _give_up(self) -> bool:
        self.given_up.set()
        return True

    def init(self, succeed: Any, **kwargs: Any) -> Any:
        self.attempts += 1
        if self.attempts > self.count:
            return succeed(**kwargs)
        assert self.given_up.wait(10), "the stalled setup was not given up"
        self.given_up.clear()
        raise ConnectionError("Request can't be sent because the Ray client has disconnected")


def test_a_connection_whose_setup_stalls_is_given_up_and_tried_again(
    monkeypatch: pytest.MonkeyPatch, taskloom_log: Any
) -> None:
    setups = StalledSetups(monkeypatch, count=1)
    runner = _client_runner_whose_ray_init_is(setups.init, monkeypatch)
    runner.start()
    runner.shutdown()
    assert setups.attempts == 2
    assert (
        "The Ray cluster at ray://127.0.0.1:10001 did not finish setting up this connection "
        "within 0.2 seconds; connecting again" in taskloom_log.messages
    )


def test_a_connection_whose_setup_stalls_every_time_fails_naming_the_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    setups = StalledSetups(monkeypatch, count=5)
    runner = _client_runner_whose_ray_init_is(setups.init, monkeypatch)
    with pytest.raises(TaskRunnerError) as raised:
        runner.start()
    assert setups.attempts == _connection.SETUP_ATTEMPTS
    assert str(raised.value).startswith(
        "Could not connect to the Ray cluster at ray://127.0.0.1:10001: it accepted the "
        f"connection but did not finish setting it up within 0.2 seconds "
        f"({_connection.SETUP_ATTEMPTS} attempts;"
    )


def test_a_connection_set_up_just_as_it_is_given_up_is_made_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    setups = StalledSetups(monkeypatch, count=0)
    shutdowns: list[int] = []

    def init(succeed: Any, **kwargs: Any) -> Any:
        if setups.attempts == 0:
            # Set up in the moment the runner gave it up: its channel is closed by then.
            setups.attempts += 1
            assert setups.given_up.wait(10)
            return succeed(**kwargs)
        return setups.init(succeed, **kwargs)

    runner = _client_runner_whose_ray_init_is(init, monkeypatch)
    fake = sys.modules["ray"]
    shutdown = fake.shutdown
    monkeypatch.setattr(fake, "shutdown", lambda: (shutdowns.append(setups.attempts), shutdown()))
    runner.start()
    assert setups.attempts == 2
    assert shutdowns == [1]  # the connection given up, before the second attempt
    runner.shutdown()


def test_a_connection_set_up_in_time_is_not_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    setups = StalledSetups(monkeypatch, count=0)
    runner = _client_runner_whose_ray_init_is(setups.init, monkeypatch)
    runner.start()
    time.sleep(0.5)  # past the setup's 0.2 s
    assert not setups.given_up.is_set()
    runner.shutdown()


@pytest.mark.parametrize(
    ("init_kwargs", "variable", "seconds"),
    [
        ({}, None, _connection.CLIENT_SETUP_SECONDS),
        ({"runtime_env": {"pip": ["rich"]}}, None, 600 + _connection.CLIENT_SETUP_SECONDS),
        (
            {"runtime_env": {"pip": ["rich"], "config": {"setup_timeout_seconds": 100}}},
            None,
            100 + _connection.CLIENT_SETUP_SECONDS,
        ),
        ({"runtime_env": {"config": {"setup_timeout_seconds": -1}}}, None, None),
        ({}, '{"env_vars": {"A": "1"}}', 600 + _connection.CLIENT_SETUP_SECONDS),
    ],
    ids=["plain", "runtime-env", "its-own-limit", "no-limit", "from-the-environment"],
)
def test_a_runtime_environment_adds_its_setup_time_to_the_connections(
    init_kwargs: dict[str, Any],
    variable: str | None,
    seconds: float | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if variable is None:
        monkeypatch.delenv("RAY_RUNTIME_ENV", raising=False)
    else:
        monkeypatch.setenv("RAY_RUNTIME_ENV", variable)
    assert _connection.client_setup_seconds(init_kwargs) == seconds


def test_a_connection_interrupted_while_set_up_leaves_no_watch_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def init(succeed: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    runner = _client_runner_whose_ray_init_is(init, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        runner.start()
    watches = [t for t in threading.enumerate() if t.name == "taskloom_ray.client_setup_watch"]
    for watch in watches:
        watch.join(5)
    assert not any(watch.is_alive() for watch in watches)
