"""The concurrent runner (the default): sync tasks on worker threads, async ones concurrently on
an event loop, and no deadlock when tasks wait on the tasks they submitted."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from taskloom import flow, task
from taskloom.futures import FinishedFuture, TaskloomFuture
from taskloom.states import Completed, StateType
from taskloom.task_runners import TaskCall, TaskRunner
from taskloom_local import ConcurrentTaskRunner


@task
def thread_id(_: Any = None) -> int:
    time.sleep(0.05)
    return threading.get_ident()


@task
def pause(seconds: float) -> None:
    time.sleep(seconds)


@task
async def async_pause(seconds: float) -> int:
    await asyncio.sleep(seconds)
    return threading.get_ident()


@task
def leaf(x: int) -> int:
    return x + 1


@task
def waits_on_children(n: int) -> int:
    return sum(future.result() for future in leaf.map(range(n)))


@task
def waits_on_grandchildren() -> int:
    return sum(future.result() for future in waits_on_children.map([2, 3]))


@pytest.mark.parametrize("max_workers", [0, -1, 1.5, "2", True])
def test_max_workers_must_be_a_positive_integer(max_workers: Any) -> None:
    with pytest.raises(TypeError, match="max_workers"):
        ConcurrentTaskRunner(max_workers=max_workers)


def test_max_workers_defaults_to_some_threads() -> None:
    assert ConcurrentTaskRunner().max_workers >= 1


def test_duplicate_keeps_max_workers() -> None:
    assert ConcurrentTaskRunner(max_workers=3).duplicate().max_workers == 3


def test_sync_tasks_run_on_threads_other_than_the_flows() -> None:
    @flow(task_runner=ConcurrentTaskRunner())
    def where() -> tuple[int, list[int]]:
        return threading.get_ident(), [f.result() for f in thread_id.map(range(3))]

    flow_thread, task_threads = where()
    assert flow_thread not in task_threads


def test_sync_tasks_use_at_most_max_workers_threads() -> None:
    @flow(task_runner=ConcurrentTaskRunner(max_workers=2))
    def where() -> set[int]:
        return {f.result() for f in thread_id.map(range(8))}

    assert 1 <= len(where()) <= 2


def test_sync_tasks_run_concurrently() -> None:
    @flow(task_runner=ConcurrentTaskRunner(max_workers=4))
    def four_pauses() -> float:
        start = time.monotonic()
        for future in pause.map([0.4] * 4):
            future.wait()
        return time.monotonic() - start

    assert four_pauses() < 1.2


def test_async_tasks_run_concurrently_whatever_max_workers() -> None:
    @flow(task_runner=ConcurrentTaskRunner(max_workers=1))
    def ten_pauses() -> float:
        start = time.monotonic()
        for future in async_pause.map([0.4] * 10):
            future.wait()
        return time.monotonic() - start

    assert ten_pauses() < 2


def test_async_tasks_share_one_event_loop_thread_off_the_flows() -> None:
    @flow(task_runner=ConcurrentTaskRunner())
    def where() -> tuple[int, set[int]]:
        return threading.get_ident(), {f.result() for f in async_pause.map([0.01] * 4)}

    flow_thread, loop_threads = where()
    assert len(loop_threads) == 1 and flow_thread not in loop_threads


def test_task_waiting_on_its_own_submissions_does_not_deadlock_one_worker(within) -> None:
    @flow(task_runner=ConcurrentTaskRunner(max_workers=1))
    def nested() -> list[int]:
        return [f.result() for f in waits_on_children.map([3, 4])]

    assert within(30, nested) == [6, 10]


def test_two_levels_of_waiting_submissions_do_not_deadlock_one_worker(within) -> None:
    @flow(task_runner=ConcurrentTaskRunner(max_workers=1))
    def nested() -> int:
        return waits_on_grandchildren()

    assert within(30, nested) == 3 + 6


def test_worker_threads_are_gone_after_the_flow_run() -> None:
    before = set(threading.enumerate())

    @flow(task_runner=ConcurrentTaskRunner(max_workers=4))
    def uses_threads() -> None:
        pause.map([0.05] * 8)
        async_pause.map([0.05] * 2)

    uses_threads()
    assert set(threading.enumerate()) - before == set()


def test_async_task_past_its_timeout_fails_timed_out() -> None:
    @task(timeout_seconds=0.2)
    async def slow() -> None:
        await asyncio.sleep(5)

    @flow(task_runner=ConcurrentTaskRunner())
    def times_out() -> tuple[str, str, float]:
        start = time.monotonic()
        state = slow.submit().wait()
        return state.name, state.message, time.monotonic() - start

    name, message, seconds = times_out()
    assert (name, message) == ("TimedOut", "Task run exceeded timeout of 0.2 second(s)")
    assert seconds < 3


def test_async_task_is_retried_after_a_delay() -> None:
    attempts: list[float] = []

    @task(retries=2, retry_delay_seconds=0.1)
    async def flaky() -> int:
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise RuntimeError("not yet")
        return len(attempts)

    @flow(task_runner=ConcurrentTaskRunner())
    def retried() -> int:
        return flaky.submit().result()

    assert retried() == 3
    assert attempts[2] - attempts[0] >= 0.19


def test_async_task_raising_timeout_error_itself_is_not_timed_out() -> None:
    @task(timeout_seconds=5)
    async def own_timeout() -> None:
        raise TimeoutError("mine")

    @flow(task_runner=ConcurrentTaskRunner())
    def fails() -> str:
        return own_timeout.submit().wait().name

    assert fails() == "Failed"


# -- shutdown and cancellation, driving the runner directly --------------------------------------

_captured: list[TaskCall] = []


class _Capture(TaskRunner):
    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        _captured.append(call)
        return FinishedFuture(call, Completed())


def call_of(fn: Any, *args: Any) -> TaskCall:
    """A task call of `fn(*args)`, as the engine hands it to a runner."""

    @flow(task_runner=_Capture())
    def submits() -> None:
        task(fn).submit(*args)

    submits()
    return _captured.pop()


class _Gate(TaskloomFuture):
    """An upstream run the test finishes by hand."""

    def __init__(self) -> None:
        super().__init__(call_of(lambda: None))
        self._callbacks: list[Any] = []
        self._state: Any = None

    def open(self) -> None:
        self._state = Completed()
        for callback in self._callbacks:
            callback(self)

    def _wait(self, timeout: float | None) -> Any:
        return self._state

    def done(self) -> bool:
        return self._state is not None

    def add_done_callback(self, fn: Any) -> None:
        self._callbacks.append(fn)


def test_a_run_whose_upstream_ends_after_shutdown_is_cancelled_not_queued() -> None:
    runner = ConcurrentTaskRunner(max_workers=2)
    runner.start()
    gate = _Gate()
    late = runner.submit(call_of(lambda: "ran"), [gate])
    runner.shutdown()
    gate.open()  # its callback queues the run: the runner has stopped taking any
    state = late.wait(5)
    assert state is not None and state.type is StateType.CANCELLED
    assert state.message == "Task run was cancelled before it started: its flow run was cancelled."


def test_cancel_ends_queued_runs_before_they_start_and_stops_running_ones() -> None:
    started = threading.Event()

    def spin() -> None:
        started.set()
        while True:
            time.sleep(0.01)

    runner = ConcurrentTaskRunner(max_workers=1)
    runner.start()
    running = runner.submit(call_of(spin), [])
    queued = runner.submit(call_of(lambda: "ran"), [])
    assert started.wait(5)
    runner.cancel()
    runner.shutdown()
    assert [f.wait(5).message for f in (running, queued)] == [  # type: ignore[union-attr]
        "Task run was cancelled while it ran: its flow run was cancelled.",
        "Task run was cancelled before it started: its flow run was cancelled.",
    ]


def test_chains_of_dependent_runs_end_however_their_callbacks_interleave(within) -> None:
    @flow(task_runner=ConcurrentTaskRunner(max_workers=2))
    def chained() -> int:
        future = leaf.submit(0)
        for _ in range(50):
            future = leaf.submit(future)
        return future.result()  # type: ignore[no-any-return]

    assert within(60, lambda: [chained() for _ in range(20)]) == [51] * 20


@pytest.fixture(autouse=True)
def _no_calls_left() -> Any:
    yield
    _captured.clear()


@task
async def ignores_its_cancellation(seconds: float) -> str:
    import anyio

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            await anyio.sleep(deadline - time.monotonic())
        except anyio.get_cancelled_exc_class():
            pass  # carries on: the run the bound below is for
    return "outlived"


def test_an_async_run_that_ignores_its_cancellation_holds_its_flow_a_bounded_time(
    taskloom_log: Any,
) -> None:
    futures: list[TaskloomFuture] = []

    @flow(task_runner=ConcurrentTaskRunner(), timeout_seconds=0.5)
    def outlived() -> None:
        futures.append(ignores_its_cancellation.submit(30))
        for _ in range(300):  # short sleeps: the flow's time limit interrupts between them
            time.sleep(0.1)

    begin = time.monotonic()
    state = outlived(return_state=True)
    assert state.name == "TimedOut"
    assert time.monotonic() - begin < 20
    assert futures[0].state.type is StateType.CANCELLED
    assert any(
        "had not ended 5 second(s) after it was cancelled" in m for m in taskloom_log.messages
    )
    assert any("Async task runs had not ended" in m for m in taskloom_log.messages)
