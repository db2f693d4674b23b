"""The concurrent runner's async runs (`AsyncRuns`): one loop thread per runner, on the flow's
backend; what is started there runs, also once everything has been cancelled."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from taskloom_local._async_runs import AsyncRuns

BACKENDS = ["asyncio", "trio"]


def started_runs(backend: str) -> AsyncRuns:
    return AsyncRuns(backend, "test-async-runs", lambda: None)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_run_started_runs_to_its_end(backend: str) -> None:
    ended = threading.Event()

    async def run() -> None:
        await anyio.sleep(0)
        ended.set()

    runs = started_runs(backend)
    assert runs.start(run)
    assert ended.wait(10)
    runs.stop()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_run_started_after_cancel_all_is_refused(backend: str) -> None:
    began = threading.Event()

    async def run() -> None:
        began.set()

    runs = started_runs(backend)
    runs.cancel_all()
    assert runs.start(run) is False
    runs.stop()
    assert not began.is_set()


@pytest.mark.timeout(30)
def test_a_start_reaching_the_loop_just_after_cancel_all_starts_and_sees_its_cancellation() -> None:
    # A start made from another thread just before `cancel_all` may reach the loop just after
    # it: the run must still start (its wrapper ends its future) and be cancelled at its
    # first await. The loop is held so that the two arrive in that order.
    began, cancelled, release = threading.Event(), threading.Event(), threading.Event()

    async def run() -> None:
        began.set()
        try:
            await anyio.sleep(30)
        except anyio.get_cancelled_exc_class():
            cancelled.set()
            raise

    runs = started_runs("asyncio")
    runs._loop.call_soon_threadsafe(release.wait, 10)
    runs.cancel_all()
    runs._loop.call_soon_threadsafe(runs._start_on_loop, run)
    release.set()
    assert began.wait(10)
    assert cancelled.wait(10)
    runs.stop()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("backend", BACKENDS)
def test_stop_ends_the_loop_thread(backend: str) -> None:
    runs = started_runs(backend)
    runs.stop()
    assert not any(t.name == "test-async-runs" and t.is_alive() for t in threading.enumerate())


@pytest.mark.timeout(30)
@pytest.mark.parametrize("backend", BACKENDS)
def test_start_after_stop_says_the_loop_has_ended(backend: str) -> None:
    runs = started_runs(backend)
    runs.stop()

    async def run() -> Any:
        return None

    assert runs.start(run) is False
