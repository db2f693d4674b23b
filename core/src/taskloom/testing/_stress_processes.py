"""What every stress run's process shares: the harness's options, the environment a run's
process starts with, and the check that a run left no process behind."""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from taskloom import _process_tree
from taskloom.task_runners import TaskRunner
from taskloom.testing._stress_tasks import JITTER_VARIABLE

#: How long a process a run started may outlive the run.
LEFTOVER_GRACE = 5.0


def load_runner(spec: str) -> TaskRunner:
    """The runner `spec` names: a `task_runner=` string, or `module:function` returning one."""
    module_name, colon, attribute = spec.partition(":")
    if colon and "://" not in spec and module_name.replace(".", "").isidentifier():
        target = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(target, TaskRunner) and not isinstance(target, type):
            target = target()
        if isinstance(target, type) and issubclass(target, TaskRunner):
            target = target()
        if not isinstance(target, TaskRunner):
            raise TypeError(f"{spec!r} gives {target!r}, which is not a task runner")
        return target
    from taskloom._registry import resolve_task_runner

    return resolve_task_runner(spec)


@dataclass
class Options:
    runner: str
    runs: int
    batch: int
    jobs: int
    timeout: float
    jitter: float
    setup: str | None


def environment(options: Options) -> dict[str, str]:
    env = dict(os.environ)
    env[JITTER_VARIABLE] = str(options.jitter)
    # A runner named by `module:function` imports from here, as it did in this process.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (os.getcwd(), env.get("PYTHONPATH"))))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def kill_group(process: subprocess.Popen[Any]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


# Helpers a process starts once and keeps till it exits: multiprocessing's resource tracker,
# which the first pool of spawned workers starts, and its fork server, which the processes
# runner's first pool starts.
_PROCESS_WIDE = (b"multiprocessing.resource_tracker", b"multiprocessing.forkserver")


def process_wide(pid: int) -> bool:
    command = _command(pid)
    if not any(helper in command for helper in _PROCESS_WIDE):
        return False
    # The fork server's workers are forks of it, with its command line: they are not helpers.
    return not any(helper in _command(_parent(pid)) for helper in _PROCESS_WIDE)


def _command(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read()
    except OSError:
        return b""


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            # "pid (name) state ppid ...": the name may hold spaces, so split after it.
            return int(file.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def outlived(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + LEFTOVER_GRACE
    while (left := _process_tree.alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left
