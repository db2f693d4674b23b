"""An existing cluster (`ray start --head`), reached through Ray Client at a `ray://` address.

One flow run on the cluster is observed for most tests here (connecting takes seconds).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

import ray_runner_tasks as rt
from ray_clusters import RayCluster, ray_cluster_running, ray_environment
from taskloom import flow
from taskloom_ray import RayTaskRunner

TOKEN = "taskloom-test-token-0123456789abcdef"


@pytest.fixture(scope="module")
def cluster() -> Iterator[RayCluster]:
    with ray_cluster_running(RAY_AUTH_MODE="disabled") as running:
        yield running


@pytest.fixture(scope="module")
def token_cluster() -> Iterator[RayCluster]:
    with ray_cluster_running(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN) as running:
        yield running


@dataclass
class Observed:
    handed_over: bool = False
    ran_in_cluster: bool = False
    cluster_processes: list[psutil.Process] = field(default_factory=list)
    connected_after: bool = True
    log: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def observed(cluster: RayCluster) -> Observed:
    import logging

    import ray

    assert not ray.is_initialized(), "a Ray from another module is still connected"
    seen = Observed(cluster_processes=cluster.processes())
    lines: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = lines.append  # type: ignore[method-assign,assignment]
    logging.getLogger("taskloom").addHandler(handler)

    @flow(task_runner=cluster.address)  # a `ray://` address names the Ray runner
    def on_the_cluster() -> None:
        upstream = rt.only_in_workers.submit(os.getpid())
        seen.handed_over = rt.is_worker_value(upstream)
        pid = rt.worker_pid()
        seen.ran_in_cluster = pid in {p.pid for p in _descendants(cluster.process.pid)}

    try:
        on_the_cluster()
    finally:
        logging.getLogger("taskloom").removeHandler(handler)
        seen.connected_after = ray.is_initialized()
        seen.log = [record.getMessage() for record in lines]
    return seen


def _descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def test_a_ray_address_connects_the_flow_run_to_the_cluster(
    observed: Observed, cluster: RayCluster
) -> None:
    assert f"Connecting to the Ray cluster at {cluster.address}" in observed.log


def test_futures_pass_between_cluster_workers_not_through_the_flow(observed: Observed) -> None:
    assert observed.handed_over


def test_tasks_run_in_the_clusters_processes(observed: Observed) -> None:
    assert observed.ran_in_cluster


def test_the_flow_run_disconnects_and_leaves_the_cluster_running(
    observed: Observed, cluster: RayCluster
) -> None:
    assert not observed.connected_after
    time.sleep(1)
    assert all(p.is_running() for p in observed.cluster_processes)


def test_a_later_flow_run_connects_again(observed: Observed, cluster: RayCluster) -> None:
    @flow(task_runner=cluster.address)
    def again() -> str:
        return rt.identity("again")  # type: ignore[no-any-return]

    assert again() == "again"


def test_a_subflow_with_its_own_local_ray_runner_runs_on_the_parents_cluster(
    observed: Observed, cluster: RayCluster
) -> None:
    @flow(task_runner=RayTaskRunner())
    def child() -> int:
        return rt.worker_pid()  # type: ignore[no-any-return]

    @flow(task_runner=cluster.address)
    def parent() -> bool:
        # Asked while connected: the job's workers end when its driver disconnects.
        return child() in {p.pid for p in _descendants(cluster.process.pid)}

    assert parent()


ON_CLUSTER = """
import sys

import ray_runner_tasks as rt
from taskloom import flow


@flow(task_runner=sys.argv[1])
def on_the_cluster() -> str:
    return rt.identity("ran on the cluster")


if __name__ == "__main__":
    print(on_the_cluster())
"""


def _run_flow_process(tmp_path: Path, address: str, **env: str) -> tuple[int, str, float]:
    script = tmp_path / "on_cluster.py"
    script.write_text(ON_CLUSTER)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(script), address],
        env=ray_environment(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - start


def test_a_cluster_with_token_authentication_accepts_its_token(
    token_cluster: RayCluster, tmp_path: Path
) -> None:
    code, output, _ = _run_flow_process(
        tmp_path, token_cluster.address, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN
    )
    assert code == 0, output
    assert "ran on the cluster" in output


def test_a_cluster_with_token_authentication_refuses_a_wrong_token_at_once(
    token_cluster: RayCluster, tmp_path: Path
) -> None:
    code, output, seconds = _run_flow_process(
        tmp_path, token_cluster.address, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN="wrong" * 8
    )
    assert code != 0
    assert "TaskRunnerError" in output
    assert f"{token_cluster.address} requires token authentication" in output
    assert seconds < 20
