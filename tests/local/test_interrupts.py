"""Ctrl-C and SIGTERM stop a flow on every local runner; a KeyboardInterrupt raised by task code
only crashes that task run."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from taskloom import flow, task
from taskloom.states import StateType
from taskloom_local import ConcurrentTaskRunner, ProcessPoolTaskRunner, SequentialTaskRunner

SCRIPT = """
    import asyncio
    import sys
    import time
    from pathlib import Path

    from taskloom import flow, task
    from taskloom_local import ConcurrentTaskRunner, ProcessPoolTaskRunner, SequentialTaskRunner

    @task
    def slow(flag):
        Path(flag).write_text("started")
        for _ in range(600):
            time.sleep(0.05)

    @task
    async def async_slow(flag):
        Path(flag).write_text("started")
        try:
            await asyncio.sleep(30)
        finally:
            Path(flag + ".finally").write_text("finally ran")

    RUNNERS = {
        "sequential": SequentialTaskRunner,
        "concurrent": ConcurrentTaskRunner,
        "processes": ProcessPoolTaskRunner,
    }

    if __name__ == "__main__":
        runner, kind, flag = sys.argv[1:]

        @flow(task_runner=RUNNERS[runner])
        def stuck():
            (async_slow if kind == "async" else slow)(flag)

        stuck()
"""

RUNNER_NAMES = {
    "sequential": "SequentialTaskRunner",
    "concurrent": "ConcurrentTaskRunner",
    "processes": "ProcessPoolTaskRunner",
}


def interrupt_flow(
    tmp_path: Path,
    env: dict[str, str],
    runner: str,
    kind: str,
    signum: int,
    whole_group: bool = False,
) -> tuple[int, str, list[psutil.Process]]:
    """Run the stuck flow, send `signum` once its task runs (to the flow's process, or to its
    whole process group as a terminal's Ctrl-C does); return the exit status, the log and the
    processes the flow's process had started (to check they are gone)."""
    script, flag = tmp_path / "stuck.py", tmp_path / "started"
    script.write_text(textwrap.dedent(SCRIPT))
    process = subprocess.Popen(
        [sys.executable, str(script), runner, kind, str(flag)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 30
        while not flag.exists():
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the task never started"
            time.sleep(0.02)
        children = psutil.Process(process.pid).children(recursive=True)
        if whole_group:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
        _, log = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()  # psutil checks it is still the process it was
    return process.returncode, log, children


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("runner", ["sequential", "concurrent", "processes"])
def test_signal_stops_the_flow_and_its_runner(
    tmp_path: Path, python_env: dict[str, str], runner: str, signum: int
) -> None:
    returncode, log, children = interrupt_flow(tmp_path, python_env, runner, "sync", signum)
    assert returncode != 0
    assert f"Shutting down task runner `{RUNNER_NAMES[runner]}`..." in log
    name = "SIGINT (Ctrl-C)" if signum == signal.SIGINT else "SIGTERM"
    assert (
        f"finished in state Cancelled(message='Flow run was cancelled by {name}.', type=CANCELLED)"
    ) in log
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []


@pytest.mark.parametrize("runner", ["sequential", "concurrent", "processes"])
def test_ctrl_c_to_the_process_group_stops_the_flow_and_its_workers(
    tmp_path: Path, python_env: dict[str, str], runner: str
) -> None:
    returncode, log, children = interrupt_flow(
        tmp_path, python_env, runner, "sync", signal.SIGINT, whole_group=True
    )
    assert returncode != 0
    assert f"Shutting down task runner `{RUNNER_NAMES[runner]}`..." in log
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_a_flow_waiting_on_an_async_task(
    tmp_path: Path, python_env: dict[str, str], signum: int
) -> None:
    returncode, log, _ = interrupt_flow(tmp_path, python_env, "concurrent", "async", signum)
    assert returncode != 0
    assert "Shutting down task runner `ConcurrentTaskRunner`..." in log


def test_ctrl_c_cancels_a_running_async_task_which_runs_its_finally(
    tmp_path: Path, python_env: dict[str, str]
) -> None:
    interrupt_flow(tmp_path, python_env, "concurrent", "async", signal.SIGINT)
    assert (tmp_path / "started.finally").read_text() == "finally ran"


@task
def interrupts() -> None:
    raise KeyboardInterrupt


@task
def add(x: int, y: int) -> int:
    return x + y


@pytest.mark.parametrize(
    "runner",
    [SequentialTaskRunner(), ConcurrentTaskRunner(), ProcessPoolTaskRunner(max_workers=1)],
    ids=["sequential", "concurrent", "processes"],
)
def test_keyboard_interrupt_in_task_code_crashes_only_that_task(runner) -> None:
    @flow(task_runner=runner)
    def goes_on() -> None:
        interrupts.submit()
        add.submit(1, 1)

    state = goes_on(return_state=True)
    assert state.message == "1/2 states failed."


@pytest.mark.parametrize(
    "runner",
    [SequentialTaskRunner(), ConcurrentTaskRunner(), ProcessPoolTaskRunner(max_workers=1)],
    ids=["sequential", "concurrent", "processes"],
)
def test_task_crashed_by_keyboard_interrupt_says_so(runner) -> None:
    @flow(task_runner=runner)
    def crashes() -> tuple[StateType, str]:
        state = interrupts.submit().wait()
        return state.type, state.message

    assert crashes() == (StateType.CRASHED, "Task run interrupted by KeyboardInterrupt")
