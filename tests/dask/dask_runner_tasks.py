"""Tasks the Dask tests share; workers import this module by name."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from taskloom import task


@task
def identity(value: Any) -> Any:
    return value


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def process_id() -> int:
    return os.getpid()


@task
def thread_name() -> str:
    return threading.current_thread().name


@task
def dask_key() -> str:
    """The key Dask runs this task run under."""
    from distributed import get_worker

    return str(get_worker().get_current_task())


@task
def worker_address() -> str:
    from distributed import get_worker

    return str(get_worker().address)


@task(tags=["dask-resource:GPU=1"])
def needs_a_gpu() -> str:
    from distributed import get_worker

    return str(get_worker().address)


@task
def fail_until(counter: Path, attempts: int) -> int:
    """Fail on the first `attempts - 1` runs (counted in a file), then return the count."""
    seen = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(seen))
    if seen < attempts:
        raise RuntimeError(f"attempt {seen}")
    return seen


@task
def sleep_then_return(seconds: float, value: Any = None) -> Any:
    time.sleep(seconds)
    return value


@task
def meet(folder: Path, me: str, other: str, timeout: float) -> bool:
    """Say `me` is here, then wait for `other`: whether both were running at once."""
    (folder / me).touch()
    deadline = time.monotonic() + timeout
    while not (folder / other).exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@task
def write_after(path: Path, seconds: float) -> None:
    time.sleep(seconds)
    path.write_text("written")


@task
def write_pid_then_sleep(path: Path, seconds: float) -> int:
    """Record the worker process's id (so a test can kill it), then sleep."""
    path.write_text(str(os.getpid()))
    time.sleep(seconds)
    return os.getpid()


@task(retries=1)
def write_pid_then_sleep_with_a_retry(path: Path, seconds: float) -> int:
    """As `write_pid_then_sleep`, but sleeps only on its first attempt."""
    first = not path.exists()
    path.write_text(str(os.getpid()))
    if first:
        time.sleep(seconds)
    return os.getpid()


@task
def submit_and_wait(x: int) -> int:
    """Submit a task run from inside this one and wait for it."""
    return add.submit(x, 1).result() * 10  # type: ignore[no-any-return]


@task
def map_and_wait(values: list[int]) -> list[int]:
    return [f.result() for f in add.map(values, 1)]


@task
def chain_inside(x: int) -> int:
    """Submit a dependent pair from inside a worker: the inner future travels as a Dask one."""
    first = add.submit(x, 1)
    return add.submit(first, 1).result()  # type: ignore[no-any-return]


class FlowProcessTripwire:
    """A value that refuses to be unpickled in the process whose id it was given.

    A run that hands it to another run passes it worker to worker; were it to travel through
    the flow's process, unpickling it there would raise.
    """

    def __init__(self, forbidden_pid: int, size: int = 1000) -> None:
        self.forbidden_pid = forbidden_pid
        self.payload = b"x" * size

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_tripwire, (self.forbidden_pid, len(self.payload)))


def _rebuild_tripwire(forbidden_pid: int, size: int) -> FlowProcessTripwire:
    if os.getpid() == forbidden_pid:
        raise RuntimeError("a value meant to stay on the workers was unpickled in the flow")
    return FlowProcessTripwire(forbidden_pid, size)


@task
def make_tripwire(forbidden_pid: int) -> FlowProcessTripwire:
    return FlowProcessTripwire(forbidden_pid)


@task
def payload_size(value: FlowProcessTripwire) -> int:
    return len(value.payload)


@task
def big_bytes(size: int) -> bytes:
    return b"x" * size


@task
def length(value: bytes) -> int:
    return len(value)
