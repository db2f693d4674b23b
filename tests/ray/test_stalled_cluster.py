"""A cluster that accepts a Ray Client connection but cannot set it up (its head's GCS does not
answer, here because it is stopped): the flow's runner gives the setup up and says so, within
its bound, instead of waiting forever, and the process can connect once the head answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import ray_runner_tasks as rt
from ray_clusters import RayCluster, ray_cluster_running
from taskloom import flow
from taskloom.exceptions import TaskRunnerError
from taskloom_ray import RayTaskRunner, _connection

#: How long the runner gives a setup here, and by default.
SETUP_SECONDS = 3.0
DEFAULT_SETUP_SECONDS = _connection.CLIENT_SETUP_SECONDS


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    with ray_cluster_running(RAY_AUTH_MODE="disabled") as running:
        yield running


@pytest.fixture(autouse=True)
def short_setups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_connection, "CLIENT_SETUP_SECONDS", SETUP_SECONDS)


@contextmanager
def gcs_stopped(cluster: RayCluster) -> Iterator[None]:
    """The head's GCS stopped (SIGSTOP) meanwhile: Ray's raylet waits 60 s for it to return."""
    (gcs,) = [p for p in cluster.processes() if p.name() == "gcs_server"]
    gcs.suspend()
    try:
        yield
    finally:
        gcs.resume()


def test_a_connection_the_cluster_never_sets_up_fails_naming_the_cluster(
    cluster: RayCluster, taskloom_log: Any
) -> None:
    import ray

    start = time.monotonic()
    with gcs_stopped(cluster), pytest.raises(TaskRunnerError) as raised:
        RayTaskRunner(cluster.address).start()
    seconds = time.monotonic() - start
    assert str(raised.value).startswith(
        f"Could not connect to the Ray cluster at {cluster.address}: it accepted the "
        f"connection but did not finish setting it up within {SETUP_SECONDS:g} seconds"
    )
    assert seconds < _connection.SETUP_ATTEMPTS * SETUP_SECONDS + 15
    retries = [m for m in taskloom_log.messages if m.endswith("; connecting again")]
    assert len(retries) == _connection.SETUP_ATTEMPTS - 1
    assert not ray.is_initialized()


def test_a_process_whose_connection_was_given_up_connects_once_the_cluster_answers(
    cluster: RayCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_connection, "SETUP_ATTEMPTS", 1)
    with gcs_stopped(cluster), pytest.raises(TaskRunnerError):
        RayTaskRunner(cluster.address).start()
    # A head whose GCS was stopped takes seconds to answer again: the default bound here.
    monkeypatch.setattr(_connection, "CLIENT_SETUP_SECONDS", DEFAULT_SETUP_SECONDS)

    @flow(task_runner=RayTaskRunner(cluster.address))
    def after_the_stall() -> Any:
        return rt.identity.submit(42).result()

    assert after_the_stall() == 42
