"""Faults: Ctrl-C and SIGTERM in the flow's process, unreachable clusters, a missing Ray."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ray_clusters import free_port, ray_environment, stop_process_group
from taskloom import flow
from taskloom.exceptions import TaskRunnerError
from taskloom_ray import RayTaskRunner

INTERRUPTED_FLOW = """
import sys
from pathlib import Path

import ray_runner_tasks as rt
from taskloom import flow
from taskloom_ray import RayTaskRunner


@flow(task_runner=RayTaskRunner(init_kwargs={"num_cpus": 1, "include_dashboard": False}))
def interrupted(marker: Path) -> None:
    rt.mark_started_then_sleep.submit(marker, 120).wait()


if __name__ == "__main__":
    interrupted(Path(sys.argv[1]))
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_the_flow_process_stops_its_temporary_ray(
    signum: signal.Signals, tmp_path: Path
) -> None:
    script, marker = tmp_path / "interrupted.py", tmp_path / "started"
    script.write_text(INTERRUPTED_FLOW)
    process = subprocess.Popen(
        [sys.executable, str(script), str(marker)],
        env=ray_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_for(marker, process)
        ray_processes = psutil.Process(process.pid).children(recursive=True)
        process.send_signal(signum)
        output = process.communicate(timeout=60)[0].decode()
        _, alive = psutil.wait_procs(ray_processes, timeout=20)
    finally:
        stop_process_group(process.pid)
    assert ray_processes, "the flow process started no Ray process"
    assert "finished in state Cancelled(message='Flow run was cancelled by SIG" in output
    assert [p.pid for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []


def _wait_for(marker: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while not marker.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the task never started:\n{process.communicate()[0].decode()}")
        time.sleep(0.1)


def test_an_unreachable_address_fails_within_seconds_naming_it() -> None:
    address = f"ray://127.0.0.1:{free_port()}"
    start = time.monotonic()
    with pytest.raises(TaskRunnerError, match=re.escape(address)):
        RayTaskRunner(address=address).start()
    assert time.monotonic() - start < 10


def test_a_flow_on_an_unreachable_address_raises_the_runner_error() -> None:
    address = f"ray://127.0.0.1:{free_port()}"

    @flow(task_runner=address)
    def unreachable() -> None:
        pass

    with pytest.raises(TaskRunnerError, match="unreachable"):
        unreachable()


def test_an_address_that_is_no_ray_client_server_fails_naming_it() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"ray://127.0.0.1:{server.getsockname()[1]}"
        with pytest.raises(TaskRunnerError, match=re.escape(address) + ".*Ray Client server"):
            RayTaskRunner(address=address).start()


def test_without_ray_the_runner_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees without Ray
    with pytest.raises(TaskRunnerError, match="pip install taskloom-ray"):
        RayTaskRunner().start()


def test_without_ray_client_a_ray_address_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "grpc", None)
    with pytest.raises(TaskRunnerError, match=re.escape('pip install "ray[client]"')):
        RayTaskRunner(address=f"ray://127.0.0.1:{free_port()}").start()
