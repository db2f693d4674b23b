"""The Ctrl-C scenario: a flow mapping 400 tasks, with a run waiting for a run of another
runner beside them, interrupted in a process of its own."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from taskloom import _process_tree
from taskloom.testing._stress_processes import Options, environment, kill_group, outlived, tail

#: Lines a flow may print in response to Ctrl-C (the scenario's two runners each say that they
#: shut down).
CTRL_C_LINES = 11
_CTRL_C_TASKS = 400
# The map's own progress, which may still be on its way out when the signal arrives.
_ROUTINE = ("Submitting task run", "finished in state Completed")


def ctrl_c_run(runner: str, signum: int, timeout: float, jitter: float = 0.0) -> dict[str, Any]:
    """One run of the Ctrl-C scenario: `{"ok": True, ...}`, or `"ok": False` and the `"error"`
    saying what went wrong (with the end of what the flow printed)."""
    options = Options(runner, 1, 1, 1, timeout, jitter, None)
    expected_codes = {-signal.SIGINT, 130} if signum == signal.SIGINT else {143}
    with tempfile.TemporaryDirectory(prefix="taskloom-ctrl-c-") as folder:
        marker, script = Path(folder) / "started", Path(folder) / "long_map.py"
        script.write_text(_CTRL_C_SCRIPT.format(tasks=_CTRL_C_TASKS))
        env = environment(options)
        env.update(TASKLOOM_STRESS_RUNNER=options.runner, TASKLOOM_STRESS_MARKER=str(marker))
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, str(script)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        lines: list[tuple[float, str]] = []
        assert process.stdout is not None
        reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
        reader.start()
        try:
            return _interrupt(process, marker, signum, expected_codes, lines, options, started)
        finally:
            if process.poll() is None:
                kill_group(process)
            reader.join(10)
            process.stdout.close()


def _read_lines(stream: Any, lines: list[tuple[float, str]]) -> None:
    for raw in iter(stream.readline, b""):
        lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))


def _interrupt(
    process: subprocess.Popen[bytes],
    marker: Path,
    signum: int,
    expected_codes: set[int],
    lines: list[tuple[float, str]],
    options: Options,
    started: float,
) -> dict[str, Any]:
    def wrong(why: str, hung: bool = False) -> dict[str, Any]:
        output = "\n".join(line for _, line in lines)
        return {"ok": False, "hung": hung, "error": f"{why}\n{tail(output, 60)}"}

    deadline = started + options.timeout
    while not marker.exists():
        if process.poll() is not None:
            return wrong(f"the flow ended ({process.returncode}) before its map began")
        if time.monotonic() > deadline:
            return wrong("the map never began", hung=True)
        time.sleep(0.01)
    time.sleep(random.uniform(0, 0.5))
    processes = _process_tree.started_since(0.0, root=process.pid)
    sent = time.monotonic()
    os.killpg(process.pid, signum)
    try:
        process.wait(options.timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.kill(process.pid, signal.SIGUSR1)  # the child dumps its threads' stacks
        time.sleep(1)
        return wrong(f"still running {options.timeout} s after {signum!r}", hung=True)
    seconds = time.monotonic() - sent
    time.sleep(0.2)  # the reader's last lines
    response = [line for at, line in lines if at >= sent and not any(r in line for r in _ROUTINE)]
    left = outlived(processes)
    if process.returncode not in expected_codes:
        return wrong(f"exit status {process.returncode} after {signum!r}")
    if len(response) >= CTRL_C_LINES:
        return wrong(f"{len(response)} lines printed in response to {signum!r}")
    if not any("finished in state Cancelled(" in line for _, line in lines):
        return wrong("the flow run did not end Cancelled")
    if left:
        return wrong(f"processes left behind: {left}")
    return {"ok": True, "seconds": seconds, "lines": len(response)}


# What the Ctrl-C scenario runs: a script, as a user's flow would be, so that the traceback
# Python prints for the interrupt is as long as a user would see.
_CTRL_C_SCRIPT = """
import faulthandler, os, signal

from taskloom import flow, unmapped
from taskloom.testing import PoolTaskRunner, _stress_tasks as t
from taskloom.testing.stress import load_runner

# From the environment, which the runner's worker processes share, not argv, which they lack.
marker = os.environ["TASKLOOM_STRESS_MARKER"]
elsewhere = t.slow.with_options(task_runner=PoolTaskRunner(2))


@flow(task_runner=load_runner(os.environ["TASKLOOM_STRESS_RUNNER"]))
def long_map():
    # Mostly still waiting for its upstream run on the other runner when the signal comes.
    t.add.submit(elsewhere.submit(marker + ".elsewhere", 1.0), 1)
    return [f.result() for f in t.slow.map(unmapped(marker), [0.05] * {tasks})]


if __name__ == "__main__":
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    long_map()
"""
