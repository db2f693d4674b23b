"""Dead workers, interrupted flows, and scripts that forget the `__main__` guard."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from dask_runner_tasks import add, write_pid_then_sleep, write_pid_then_sleep_with_a_retry
from taskloom import flow
from taskloom.states import StateType
from taskloom_dask import DaskTaskRunner

PROCESS_CLUSTER = {"n_workers": 1, "threads_per_worker": 1, "dashboard_address": "127.0.0.1:0"}


def wait_for_file(path: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.05)
    return path.read_text()


def test_a_run_whose_worker_dies_crashes_and_the_flow_finishes(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    @flow(task_runner=DaskTaskRunner(cluster_kwargs=PROCESS_CLUSTER), timeout_seconds=120)
    def loses_a_worker() -> tuple[StateType, str]:
        future = write_pid_then_sleep.submit(pid_file, 60)
        os.kill(int(wait_for_file(pid_file)), signal.SIGKILL)
        state = future.wait()
        assert state is not None
        return state.type, str(state.message)

    kind, message = loses_a_worker()
    assert kind is StateType.CRASHED
    assert "crashed" in message and "KilledWorker" in message


def test_a_run_whose_worker_dies_runs_again_when_it_has_retries(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    @flow(task_runner=DaskTaskRunner(cluster_kwargs=PROCESS_CLUSTER), timeout_seconds=120)
    def retries_elsewhere() -> tuple[int, int]:
        future = write_pid_then_sleep_with_a_retry.submit(pid_file, 60)
        killed = int(wait_for_file(pid_file))
        os.kill(killed, signal.SIGKILL)
        return killed, future.result()

    killed, survivor = retries_elsewhere()
    assert survivor != killed


def test_a_dependent_of_a_run_that_ran_again_gets_the_new_result(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    @flow(task_runner=DaskTaskRunner(cluster_kwargs=PROCESS_CLUSTER), timeout_seconds=120)
    def depends_on_a_retried_run() -> tuple[int, int]:
        upstream = write_pid_then_sleep_with_a_retry.submit(pid_file, 60)
        downstream = add.submit(upstream, 0)
        killed = int(wait_for_file(pid_file))
        os.kill(killed, signal.SIGKILL)
        return killed, downstream.result()

    killed, survivor = depends_on_a_retried_run()
    assert survivor != killed


FLOW_SCRIPT = """
import sys, time
from pathlib import Path
from taskloom import flow, task
from taskloom_dask import DaskTaskRunner, LocalDaskTaskRunner

RUNNERS = {
    "DaskTaskRunner": DaskTaskRunner(cluster_kwargs={
        "n_workers": 2, "threads_per_worker": 1, "dashboard_address": "127.0.0.1:0"}),
    "LocalDaskTaskRunner": LocalDaskTaskRunner("processes", num_workers=2),
}

@task
def sleep_long(marker):
    Path(marker).write_text("running")
    time.sleep(120)

if __name__ == "__main__":
    runner, marker = sys.argv[1:]

    @flow(task_runner=RUNNERS[runner])
    def long_flow():
        sleep_long.submit(marker).result()

    long_flow()
"""


@pytest.mark.parametrize(
    ("runner", "signum"),
    [
        ("DaskTaskRunner", signal.SIGINT),
        ("DaskTaskRunner", signal.SIGTERM),
        ("LocalDaskTaskRunner", signal.SIGINT),
    ],
)
def test_a_signal_to_the_flow_process_stops_its_worker_processes(
    runner: str, signum: int, tmp_path: Path, python_env: dict[str, str]
) -> None:
    script = tmp_path / "long_flow.py"
    script.write_text(FLOW_SCRIPT)
    marker = tmp_path / "marker"
    process = subprocess.Popen(
        [sys.executable, str(script), runner, str(marker)],
        env=python_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_file(marker)
        children = psutil.Process(process.pid).children(recursive=True)
        assert children, "the runner started no worker process"
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
        _, alive = psutil.wait_procs(children, timeout=10)
        assert alive == [], stderr.decode()[-2000:]
        assert f"Shutting down task runner `{runner}`".encode() in stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


UNGUARDED_SCRIPT = """
from taskloom import flow, task
from taskloom_dask import DaskTaskRunner

@task
def hello():
    return "hi"

cluster = {"n_workers": 1, "dashboard_address": "127.0.0.1:0"}

@flow(task_runner=DaskTaskRunner(cluster_kwargs=cluster))
def unguarded():
    return hello()

print(unguarded())
"""


def test_a_script_without_the_main_guard_runs_on_a_temporary_cluster(run_script) -> None:
    done = run_script(UNGUARDED_SCRIPT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-1] == "hi"
    assert "Nanny failed" not in done.stderr
