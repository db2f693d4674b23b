"""A second Ctrl-C or SIGTERM while a cancelled flow waits for a run that will not stop exits at
once, killing the processes the flow started and no others."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

# The task sits in one long C call (`time.sleep`), which nothing can stop from another thread,
# after starting a process of its own; the script starts one before its flow too.
SCRIPT = """
    import subprocess, sys, time
    from pathlib import Path

    from taskloom import flow, task
    from taskloom_local import ConcurrentTaskRunner

    SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
    QUIET = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}


    @task
    def stuck(folder):
        child = subprocess.Popen(SLEEPER, **QUIET)
        (Path(folder) / "flow_child").write_text(str(child.pid))
        (Path(folder) / "started").write_text("")
        time.sleep(120)


    if __name__ == "__main__":
        folder = sys.argv[1]
        before = subprocess.Popen(SLEEPER, **QUIET)
        (Path(folder) / "older_child").write_text(str(before.pid))

        @flow(task_runner=ConcurrentTaskRunner())
        def stuck_flow():
            stuck(folder)

        stuck_flow()
"""


@dataclass
class StuckFlow:
    process: subprocess.Popen[str]
    folder: Path

    def pid(self, name: str) -> int:
        return int((self.folder / name).read_text())

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)


@pytest.fixture
def stuck_flow(tmp_path: Path, python_env: dict[str, str]) -> Iterator[StuckFlow]:
    script = tmp_path / "stuck.py"
    script.write_text(textwrap.dedent(SCRIPT))
    process = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)],
        env=python_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    flow = StuckFlow(process, tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "started").exists():
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the task never started"
            time.sleep(0.02)
        yield flow
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)
        for name in ("flow_child", "older_child"):
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
                os.kill(flow.pid(name), signal.SIGKILL)


def gone(pid: int, within: float = 5.0) -> bool:
    try:
        psutil.Process(pid).wait(within)
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_second_signal_exits_at_once_with_128_plus_its_number(
    stuck_flow: StuckFlow, signum: int
) -> None:
    stuck_flow.signal(signum)
    time.sleep(1)
    assert stuck_flow.process.poll() is None, "the first signal waits for the running task"
    stuck_flow.signal(signum)
    assert stuck_flow.process.wait(5) == 128 + signum


def test_a_second_signal_kills_the_processes_the_flow_started(stuck_flow: StuckFlow) -> None:
    stuck_flow.signal(signal.SIGINT)
    time.sleep(0.5)
    stuck_flow.signal(signal.SIGINT)
    stuck_flow.process.wait(5)
    assert gone(stuck_flow.pid("flow_child"))
    assert not gone(stuck_flow.pid("older_child"), within=0.5)


def test_the_waiting_flow_says_how_to_stop_waiting(stuck_flow: StuckFlow) -> None:
    stuck_flow.signal(signal.SIGINT)
    time.sleep(3)  # past the hint's 2 seconds
    stuck_flow.signal(signal.SIGINT)
    stuck_flow.process.wait(5)
    _, log = stuck_flow.process.communicate(timeout=5)
    assert "to stop; SIGINT (Ctrl-C) again exits at once" in log
    assert log.rstrip().endswith(
        "SIGINT (Ctrl-C) again: exiting at once, 1 process(es) of the flow run killed"
    )
