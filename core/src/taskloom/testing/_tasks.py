"""Tasks the standard suite runs: module-level, so every runner can send them to workers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio

from taskloom import task


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def identity(value: Any) -> Any:
    return value


@task
def fail(message: str = "boom") -> None:
    raise ValueError(message)


@task
def interrupt() -> None:
    raise KeyboardInterrupt


@task
def interval(seconds: float) -> tuple[float, float]:
    """Sleep; return when the sleep began and ended."""
    start = time.time()
    time.sleep(seconds)
    return start, time.time()


@task
async def async_interval(seconds: float) -> tuple[float, float]:
    start = time.time()
    await anyio.sleep(seconds)
    return start, time.time()


@task
async def async_add(x: int, y: int) -> int:
    await anyio.sleep(0)
    return x + y


@task(timeout_seconds=0.5)
def sleep_past_timeout(seconds: float) -> str:
    time.sleep(seconds)
    return "finished"


@task
def write_after(path: Path, seconds: float) -> None:
    time.sleep(seconds)
    path.write_text("written")


@task
def read(path: Path) -> str:
    return path.read_text() if path.exists() else "missing"


@task(retries=2)
def fail_until_third_attempt(counter: Path) -> int:
    attempts = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempts))
    if attempts < 3:
        raise RuntimeError(f"attempt {attempts}")
    return attempts


@task
def submit_nested(x: int) -> int:
    return add.submit(x, 1).result() * 10


@task
def sum_all(values: list[int], extra: dict[str, int]) -> int:
    return sum(values) + sum(extra.values())


@task
def fail_odd(x: int) -> int:
    if x % 2:
        raise ValueError(f"odd: {x}")
    return x


@task(retries=1)
def fail_first_attempt(counters: Path, x: int) -> int:
    """Fails the first attempt of each `x` (counted in a file per `x`), then returns `x`."""
    counter = counters / str(x)
    if not counter.exists():
        counter.write_text("1")
        raise RuntimeError(f"first attempt of {x}")
    return x


@task(timeout_seconds=0.5)
def sleep_if_odd(x: int) -> int:
    if x % 2:
        time.sleep(5)
    return x


def _mark_handled(task: Any, old: Any, new: Any) -> Any:
    """A state handler that puts a marked copy of a completed run's value in its place."""
    from taskloom.states import Completed

    if new.is_completed():
        return Completed(data=("handled", new.result()))
    return None


@task(state_handlers=[_mark_handled])
def handled(value: Any) -> Any:
    return value


@task
def run_context(value: Any) -> dict[str, Any]:
    """What `taskloom.context` holds in this run."""
    import taskloom

    return dict(taskloom.context)
