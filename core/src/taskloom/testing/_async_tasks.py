"""Async tasks the standard suite runs under asyncio and trio, written against anyio only."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import anyio.to_thread

from taskloom import task


def _double(x: int) -> int:
    return 2 * x


@task
async def anyio_work(x: int) -> int:
    """Sleeps, runs two children in a task group and one sync call in a thread: returns 4x."""
    found: list[int] = []

    async def child(value: int) -> None:
        await anyio.sleep(0.01)
        found.append(value)

    async with anyio.create_task_group() as group:
        group.start_soon(child, x)
        group.start_soon(child, x)
    return sum(found) + await anyio.to_thread.run_sync(_double, x)


@task
async def async_sleep_then_mark(seconds: float, marker: Path) -> str:
    """Sleeps `seconds`; writes that its `finally` ran when it ends, however."""
    try:
        await anyio.sleep(seconds)
    finally:
        marker.write_text("finally ran")
    return "finished"


async_sleep_past_timeout = async_sleep_then_mark.with_options(
    name="async_sleep_past_timeout", timeout_seconds=0.5
)


@task(timeout_seconds=0.5)
def sync_steps_past_timeout(steps: int, marker: Path) -> str:
    """Sleeps `steps` times 0.05 s; writes how many steps it took when it ends, however."""
    taken = 0
    try:
        for taken in range(1, steps + 1):  # noqa: B007 - read in `finally`
            time.sleep(0.05)
    finally:
        marker.write_text(str(taken))
    return "finished"
