"""Tasks of the Ray runner's tests.

Module-level, in a module on the path of the test process (see conftest), so Ray workers load
them by name: those of a local Ray get the driver's path, those of a `ray start` cluster get it
through `PYTHONPATH`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from taskloom import get_run_logger, task


@task
def identity(value: Any) -> Any:
    return value


@task
def echo(*args: Any, **kwargs: Any) -> list[Any]:
    return [list(args), kwargs]


@task
def size(value: bytes) -> int:
    return len(value)


@task
def megabytes(n: int) -> bytes:
    return b"x" * (n * 1024 * 1024)


class OnlyInWorkers:
    """A value that refuses to be unpickled in the process whose pid it was made with."""

    def __init__(self, forbidden_pid: int) -> None:
        self.forbidden_pid = forbidden_pid

    def __reduce__(self) -> tuple[Any, ...]:
        return (_check_pid, (self.forbidden_pid,))


def _check_pid(forbidden_pid: int) -> OnlyInWorkers:
    if os.getpid() == forbidden_pid:
        raise RuntimeError("a task's value was unpickled in the flow's process")
    return OnlyInWorkers(forbidden_pid)


@task
def only_in_workers(flow_pid: int) -> OnlyInWorkers:
    return OnlyInWorkers(flow_pid)


@task
def is_worker_value(value: Any) -> bool:
    return isinstance(value, OnlyInWorkers)


@task
def fail(message: str = "boom") -> None:
    raise ValueError(message)


@task
def assigned_resources(label: str = "") -> dict[str, float]:
    """The Ray resources the run holds (CPUs, custom resources...)."""
    import ray

    return dict(ray.get_runtime_context().get_assigned_resources())


@task
def worker_pid() -> int:
    return os.getpid()


@task
def node_address() -> str:
    import ray

    return str(ray.util.get_node_ip_address())


@task
def pid_then_sleep(pid_file: Path, seconds: float) -> str:
    """Write this worker's pid, then sleep; a rerun after the worker died returns at once."""
    if pid_file.exists():
        return "rerun"
    pid_file.write_text(str(os.getpid()))
    time.sleep(seconds)
    return "slept"


@task
def mark_started_then_sleep(marker: Path, seconds: float) -> None:
    marker.write_text("started")
    time.sleep(seconds)


@task
def sleep_for(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@task
async def async_identity(value: Any) -> Any:
    import asyncio

    await asyncio.sleep(0)
    return value


@task
def submit_async_child(value: Any) -> Any:
    return async_identity.submit(value).result()


@task
def logs_lines(label: str, count: int) -> int:
    """Logs `count` lines through its run logger: `<label> line 0`, `<label> line 1`, ..."""
    logger = get_run_logger()
    for index in range(count):
        logger.info("%s line %d", label, index)
    return count


@task
def logs_then_fails(label: str) -> None:
    get_run_logger().warning("%s about to fail", label)
    raise ValueError(label)
