"""Async tasks and flows: awaited results, futures that are awaitable, and mixing with sync."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import warnings
from typing import Any

import pytest

from taskloom import State, flow, task
from taskloom.testing import InlineTaskRunner

INLINE = InlineTaskRunner()


@task
async def async_add(x: int, y: int) -> int:
    await asyncio.sleep(0)
    return x + y


@task
def add(x: int, y: int) -> int:
    return x + y


@task
async def async_fail() -> None:
    raise ValueError("async boom")


def test_calling_an_async_flow_gives_a_coroutine_of_its_result() -> None:
    @flow(task_runner=INLINE)
    async def async_flow() -> int:
        return 1

    coroutine = async_flow()
    assert asyncio.iscoroutine(coroutine)
    assert asyncio.run(coroutine) == 1


def test_awaiting_an_async_task_in_an_async_flow_gives_its_result() -> None:
    @flow(task_runner=INLINE)
    async def async_flow() -> int:
        return await async_add(1, 2)

    assert asyncio.run(async_flow()) == 3


def test_sync_task_in_an_async_flow_returns_its_result_directly() -> None:
    @flow(task_runner=INLINE)
    async def async_flow() -> int:
        return add(1, 2)

    assert asyncio.run(async_flow()) == 3


def test_awaiting_a_future_in_an_async_flow_gives_its_result() -> None:
    @flow(task_runner=INLINE)
    async def async_flow() -> list[int]:
        return [await async_add.submit(1, 2), await add.submit(3, 4)]

    assert asyncio.run(async_flow()) == [3, 7]


def test_awaiting_a_running_future_does_not_block_the_event_loop(thread_runner) -> None:
    @task
    def slow_add(x: int, y: int) -> int:
        import time

        time.sleep(0.3)
        return x + y

    @flow(task_runner=thread_runner)
    async def async_flow() -> tuple[int, int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.ensure_future(tick())
        result = await slow_add.submit(1, 2)
        ticker.cancel()
        return result, ticks

    result, ticks = asyncio.run(async_flow())
    assert result == 3
    assert ticks >= 5


def test_future_result_works_in_an_async_flow() -> None:
    @flow(task_runner=INLINE)
    async def async_flow() -> int:
        return async_add.submit(2, 2).result()

    assert asyncio.run(async_flow()) == 4


def test_awaiting_a_failed_async_task_raises_its_exception() -> None:
    @flow(task_runner=INLINE)
    async def async_flow() -> None:
        await async_fail()

    with pytest.raises(ValueError, match="async boom"):
        asyncio.run(async_flow())


def test_async_task_in_a_sync_flow_returns_its_result() -> None:
    @flow(task_runner=INLINE)
    def sync_flow() -> int:
        return async_add(1, 2)  # type: ignore[return-value]

    assert sync_flow() == 3


def test_async_flow_with_return_state_gives_the_state() -> None:
    @flow(task_runner=INLINE)
    async def async_flow() -> None:
        async_fail.submit()

    state = asyncio.run(async_flow(return_state=True))
    assert isinstance(state, State)
    assert state.message == "1/1 states failed."


def test_sync_flow_runs_an_async_subflow_to_completion() -> None:
    @flow(task_runner=INLINE)
    async def async_child(x: int) -> int:
        return await async_add(x, 1)

    @flow(task_runner=INLINE)
    def sync_parent() -> int:
        return async_child(1) + 1  # type: ignore[operator]

    assert sync_parent() == 3


def test_async_flow_awaits_an_async_subflow() -> None:
    @flow(task_runner=INLINE)
    async def async_child() -> int:
        return await async_add(1, 1)

    @flow(task_runner=INLINE)
    async def async_parent() -> int:
        return await async_child() * 10

    assert asyncio.run(async_parent()) == 20


def test_async_flow_calls_a_sync_subflow() -> None:
    @flow(task_runner=INLINE)
    def sync_child() -> int:
        return add(2, 2)

    @flow(task_runner=INLINE)
    async def async_parent() -> int:
        return sync_child()

    assert asyncio.run(async_parent()) == 4


def test_async_tasks_gather_in_an_async_flow() -> None:
    @flow(task_runner=INLINE)
    async def async_flow() -> list[Any]:
        return list(await asyncio.gather(async_add(1, 1), async_add(2, 2)))

    assert asyncio.run(async_flow()) == [2, 4]


def test_async_task_on_a_helper_thread_leaves_no_event_loop_open() -> None:
    @task(timeout_seconds=5)
    async def on_helper_thread() -> int:
        return 1

    @flow(task_runner=INLINE)
    def sync_flow() -> int:
        return on_helper_thread()  # type: ignore[return-value]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert sync_flow() == 1
        deadline = time.monotonic() + 5
        while any(t.name == "taskloom-call" for t in threading.enumerate()):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        gc.collect()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []


def test_async_task_on_a_thread_we_do_not_own_leaves_no_event_loop_open(thread_runner) -> None:
    @flow(task_runner=thread_runner)
    def sync_flow() -> int:
        return async_add.submit(1, 2).result()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert sync_flow() == 3
        deadline = time.monotonic() + 5
        while threading.active_count() > 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        gc.collect()
    assert [str(w.message) for w in caught if w.category is ResourceWarning] == []
