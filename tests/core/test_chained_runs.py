"""A run taking a future of another runner that is not final yet: submitted to its own runner
once that future is, without holding the flow (`ChainedFuture`)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from taskloom import flow, task
from taskloom.futures import TaskloomFuture
from taskloom.hookspecs import hookimpl
from taskloom.states import StateType
from taskloom.task_runners import TaskCall, TaskRunner
from taskloom.testing import InlineTaskRunner, PoolTaskRunner

#: Set by a flow once it has submitted what it means to; the gated task waits for it.
gate = threading.Event()
GATE_SECONDS = 10.0


@pytest.fixture(autouse=True)
def _closed_gate() -> None:
    gate.clear()


@task
def double(x: int) -> int:
    return 2 * x


@task
def gated(x: int) -> int:
    """`x`, once the flow opened the gate; -1 if it never did (the flow was held)."""
    return x if gate.wait(GATE_SECONDS) else -1


@task
def fail() -> int:
    raise ValueError("boom")


@task
def stamp(_: Any = None) -> float:
    time.sleep(0.05)
    return time.monotonic()


OTHER = PoolTaskRunner(max_workers=3)
gated_elsewhere = gated.with_options(task_runner=OTHER)
double_elsewhere = double.with_options(task_runner=OTHER)
fail_elsewhere = fail.with_options(task_runner=OTHER)
stamp_elsewhere = stamp.with_options(task_runner=OTHER)


def test_submitting_a_run_of_another_runners_unfinished_run_does_not_hold_the_flow() -> None:
    @flow(task_runner=PoolTaskRunner())
    def chained() -> int:
        future = double.submit(gated_elsewhere.submit(21))
        gate.set()  # reached only if the submission above returned before `gated` ended
        return future.result()

    assert chained() == 42


def test_on_a_runner_that_runs_at_submission_the_flow_waits_where_it_submits() -> None:
    assert InlineTaskRunner.runs_at_submission

    @flow(task_runner=InlineTaskRunner())
    def waits() -> tuple[float, float, float]:
        upstream = stamp_elsewhere.submit()
        downstream = stamp.submit(upstream)
        submitted = time.monotonic()
        return upstream.result(), submitted, downstream.result()

    ended, submitted, ran = waits()
    assert ended <= ran <= submitted  # the downstream run ran inline, once upstream ended


def test_a_chain_alternating_between_runners_passes_every_value_on() -> None:
    @flow(task_runner=PoolTaskRunner())
    def alternating() -> int:
        future = double.submit(1)
        for step in range(9):
            future = (double_elsewhere if step % 2 == 0 else double).submit(future)
        return future.result()

    assert alternating() == 2**10


def test_a_chained_run_passed_to_its_own_runner_goes_there_as_that_runners_future() -> None:
    seen: list[list[str]] = []

    class Seeing(PoolTaskRunner):
        def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
            seen.append([type(future).__name__ for future in upstream])
            return super().submit(call, upstream)

    @flow(task_runner=Seeing())
    def passed_on() -> int:
        first = double.submit(gated_elsewhere.submit(1))
        second = double.submit(first)
        gate.set()
        return second.result()

    assert passed_on() == 4
    assert seen == [[], ["PoolFuture"]]


def test_a_runs_values_inside_containers_and_keywords_come_from_the_other_runner() -> None:
    @task
    def combine(pair: tuple[int, int], named: dict[str, int], *, extra: int) -> int:
        return sum(pair) + named["n"] + extra

    @flow(task_runner=PoolTaskRunner())
    def containers() -> int:
        a, b = double_elsewhere.submit(1), double_elsewhere.submit(2)
        return combine.submit((a, b), {"n": a}, extra=b).result()

    assert containers() == 2 + 4 + 2 + 4


def test_a_failure_on_the_other_runner_leaves_the_run_not_ready_naming_it() -> None:
    seen: dict[str, Any] = {}

    @flow(task_runner=PoolTaskRunner())
    def crossing() -> None:
        failed = fail_elsewhere.submit()
        downstream = double.submit(failed)
        seen["failed"] = failed.task_run_name
        seen["state"] = downstream.wait()

    state = crossing(return_state=True)
    assert state.type is StateType.FAILED
    assert seen["state"].name == "NotReady"
    assert repr(seen["failed"]) in seen["state"].message


def test_wait_for_a_run_on_the_other_runner_starts_the_run_after_it() -> None:
    @flow(task_runner=PoolTaskRunner())
    def ordered() -> tuple[float, float]:
        first = stamp_elsewhere.submit()
        second = stamp.submit(wait_for=[first])
        return first.result(), second.result()

    first, second = ordered()
    assert first < second


def test_a_map_over_the_other_runners_futures_gives_every_value() -> None:
    @flow(task_runner=PoolTaskRunner())
    def mapped() -> list[int]:
        return double.map(double_elsewhere.map(range(6))).result()

    assert mapped() == [4 * x for x in range(6)]


def test_a_chained_run_can_be_awaited_in_an_async_flow() -> None:
    @flow(task_runner=PoolTaskRunner())
    async def awaited() -> int:
        future = double.submit(gated_elsewhere.submit(5))
        gate.set()
        return await future  # type: ignore[no-any-return]

    assert asyncio.run(awaited()) == 10


def test_a_chained_runs_done_callbacks_run_once_it_ends() -> None:
    ended: list[str] = []

    @flow(task_runner=PoolTaskRunner())
    def called_back() -> int:
        future = double.submit(gated_elsewhere.submit(3))
        future.add_done_callback(lambda f: ended.append(f.state.name))
        assert not future.done()
        gate.set()
        return future.result()

    assert called_back() == 6
    deadline = time.monotonic() + 10
    while not ended and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ended == ["Completed"]


def test_a_chained_runs_state_is_pending_until_it_goes_to_its_runner() -> None:
    seen: dict[str, Any] = {}

    @flow(task_runner=PoolTaskRunner())
    def pending() -> None:
        future = double.submit(gated_elsewhere.submit(3))
        seen["before"] = future.state.type
        seen["timed out"] = future.wait(0.05)
        gate.set()
        seen["after"] = future.result()

    pending()
    assert seen == {"before": StateType.PENDING, "timed out": None, "after": 6}


def test_a_flow_past_its_timeout_cancels_the_runs_still_waiting_for_another_runner() -> None:
    seen: dict[str, TaskloomFuture[Any]] = {}
    opens = threading.Timer(1.0, gate.set)  # after the flow's timeout: `gated` ends then

    @flow(task_runner=PoolTaskRunner(), timeout_seconds=0.3)
    def times_out() -> None:
        seen["upstream"] = gated_elsewhere.submit(1)
        seen["chained"] = double.submit(seen["upstream"])
        opens.start()
        for _ in range(100):  # short sleeps: the flow's time limit interrupts between them
            time.sleep(0.1)

    begin = time.monotonic()
    try:
        state = times_out(return_state=True)
    finally:
        opens.cancel()
        gate.set()
    assert state.name == "TimedOut"
    assert seen["upstream"].state.is_completed()
    assert seen["chained"].state.type is StateType.CANCELLED
    assert time.monotonic() - begin < 5


def test_an_interrupted_flow_ends_the_runs_still_waiting_for_another_runner_cancelled() -> None:
    seen: dict[str, TaskloomFuture[Any]] = {}
    opens = threading.Timer(1.0, gate.set)  # after the interrupt: `gated` ends then

    @flow(task_runner=PoolTaskRunner())
    def interrupted() -> None:
        seen["upstream"] = gated_elsewhere.submit(1)
        seen["chained"] = double.submit(seen["upstream"])
        opens.start()
        raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            interrupted()
    finally:
        opens.cancel()
        gate.set()
    assert seen["chained"].state.type is StateType.CANCELLED
    assert seen["upstream"].state.is_completed()


def test_a_chained_run_whose_runner_fails_to_take_it_fails_saying_so() -> None:
    class Refusing(PoolTaskRunner):
        def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
            raise OSError("no room")

    seen: dict[str, Any] = {}

    @flow(task_runner=Refusing())
    def refused() -> None:
        future = double.submit(gated_elsewhere.submit(1))
        gate.set()
        seen["state"] = future.wait()

    refused(return_state=True)
    state = seen["state"]
    assert state.type is StateType.FAILED
    assert "could not be submitted" in state.message
    assert "OSError: no room" in state.message


def test_a_plugin_wrapping_submission_sees_the_chained_run_go_to_its_runner(
    register_plugin: Any,
) -> None:
    submitted: list[tuple[str, str]] = []

    class Watching:
        @hookimpl(wrapper=True)
        def taskloom_runner_submit(
            self, runner: TaskRunner, call: TaskCall, upstream: Sequence[TaskloomFuture]
        ) -> Any:
            submitted.append((runner.name, call.task.name))
            return (yield)

    register_plugin(Watching())

    @flow(task_runner=PoolTaskRunner(max_workers=2))
    def watched() -> int:
        future = double.submit(gated_elsewhere.submit(2))
        seen = list(submitted)
        gate.set()
        assert future.result() == 4
        return len(seen)

    assert watched() == 1  # only `gated` had gone to its runner while it ran
    assert submitted == [("PoolTaskRunner", "gated"), ("PoolTaskRunner", "double")]
