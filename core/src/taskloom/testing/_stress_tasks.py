"""Tasks of the stress scenarios: module-level, so every runner can send them to its workers.

Each one first sleeps a random moment of at most `TASKLOOM_STRESS_JITTER` seconds (read once,
when the module is imported, in whichever process runs the task), so that runs overlap and
finish in ever different orders.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path
from typing import Any

from taskloom import task

JITTER_VARIABLE = "TASKLOOM_STRESS_JITTER"
_JITTER = float(os.environ.get(JITTER_VARIABLE) or 0)


def jitter() -> None:
    """Sleep a random moment (none when no jitter is set)."""
    if _JITTER:
        time.sleep(random.uniform(0, _JITTER))


async def async_jitter() -> None:
    await asyncio.sleep(random.uniform(0, _JITTER) if _JITTER else 0)


@task
def inc(x: int) -> int:
    jitter()
    return x + 1


@task
async def async_inc(x: int) -> int:
    await async_jitter()
    return x + 1


@task
def add(x: int, y: int) -> int:
    jitter()
    return x + y


@task
def fail(message: str) -> None:
    jitter()
    raise ValueError(message)


@task
def inc_unless_seven(x: int) -> int:
    """`x + 1`, failing for multiples of 7."""
    jitter()
    if x % 7 == 0:
        raise ValueError(f"{x} is a multiple of 7")
    return x + 1


@task
def total(values: list[int]) -> int:
    jitter()
    return sum(values)


@task
def parent(x: int) -> int:
    """Submits a run and waits for it: nested submission."""
    jitter()
    return inc.submit(x).result() * 10


@task(retries=2)
def fail_twice(counter: Path) -> int:
    """Fails on its first two attempts, counting them in a file (runs may be in other
    processes)."""
    jitter()
    attempts = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempts))
    if attempts < 3:
        raise RuntimeError(f"attempt {attempts}")
    return attempts


@task(retries=1)
def always_fail() -> None:
    jitter()
    raise RuntimeError("always")


@task(timeout_seconds=0.1)
def oversleep(seconds: float) -> str:
    time.sleep(seconds)
    return "finished"


@task
def slow(marker: str, seconds: float) -> Any:
    """The first run to start writes `marker`: the map of the Ctrl-C scenario has begun."""
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
    time.sleep(seconds)
    return seconds


#: How long `once_there` waits for its file before it gives up.
ONCE_THERE_SECONDS = 10.0


@task
def once_there(path: str, value: int) -> int:
    """`value` once the file `path` exists, -1 if it does not appear within
    `ONCE_THERE_SECONDS`: a run held back until its flow made the file, after submitting the
    runs that take it (a flow held at those submissions gets -1)."""
    deadline = time.monotonic() + ONCE_THERE_SECONDS
    while not Path(path).exists():
        if time.monotonic() > deadline:
            return -1
        time.sleep(0.01)
    return value
