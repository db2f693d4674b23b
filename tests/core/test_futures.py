"""Futures: result, wait, done, state, and waiting on many with `as_completed` and `wait`."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import taskloom
from taskloom import flow, task
from taskloom.states import StateType
from taskloom.testing import InlineTaskRunner


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def fail() -> None:
    raise ValueError("boom")


@task
def gated(gate: threading.Event, value: Any = None) -> Any:
    """Runs until the test opens the gate (or 10 seconds pass, so nothing hangs)."""
    gate.wait(10)
    return value


def test_result_waits_for_the_run_and_returns_its_value(thread_runner) -> None:
    @flow(task_runner=thread_runner)
    def waits() -> int:
        return add.submit(1, 2).result()

    assert waits() == 3


def test_result_of_a_failed_run_raises_its_exception(thread_runner) -> None:
    @flow(task_runner=thread_runner)
    def raises() -> None:
        fail.submit().result()

    with pytest.raises(ValueError, match="boom"):
        raises()


def test_result_without_raising_returns_the_exception(thread_runner) -> None:
    @flow(task_runner=thread_runner)
    def returns_error() -> Any:
        return fail.submit().result(raise_on_failure=False)

    state = returns_error(return_state=True)
    assert isinstance(state.result(), ValueError)


def test_result_with_a_timeout_raises_timeout_error_for_a_running_run(thread_runner) -> None:
    gate = threading.Event()

    @flow(task_runner=thread_runner)
    def too_slow() -> None:
        future = gated.submit(gate)
        try:
            with pytest.raises(TimeoutError, match=future.task_run_name):
                future.result(timeout=0.1)
        finally:
            gate.set()

    too_slow()


def test_wait_returns_the_final_state(thread_runner) -> None:
    @flow(task_runner=thread_runner)
    def waits() -> str:
        return repr(add.submit(1, 2).wait())

    assert waits() == "Completed(message=None, type=COMPLETED)"


def test_wait_with_a_timeout_returns_none_for_a_running_run(thread_runner) -> None:
    gate = threading.Event()

    @flow(task_runner=thread_runner)
    def too_slow() -> Any:
        future = gated.submit(gate)
        state = future.wait(0.1)
        gate.set()
        return state

    assert too_slow() is None


def test_done_is_false_until_the_run_is_final(thread_runner) -> None:
    gate = threading.Event()

    @flow(task_runner=thread_runner)
    def watches() -> tuple[bool, bool]:
        future = gated.submit(gate)
        before = future.done()
        gate.set()
        future.wait()
        return before, future.done()

    assert watches() == (False, True)


def test_state_is_pending_then_running_then_completed(thread_runner) -> None:
    upstream_gate, gate = threading.Event(), threading.Event()

    @flow(task_runner=thread_runner)
    def watches() -> list[StateType]:
        upstream = gated.submit(upstream_gate)
        future = gated.submit(gate, wait_for=[upstream])
        states = [future.state.type]
        upstream_gate.set()
        upstream.wait()
        while not future.call.started:
            time.sleep(0.01)
        states.append(future.state.type)
        gate.set()
        future.wait()
        states.append(future.state.type)
        return states

    assert watches() == [StateType.PENDING, StateType.RUNNING, StateType.COMPLETED]


def test_state_of_a_failed_run_is_failed() -> None:
    @flow(task_runner=InlineTaskRunner())
    def fails() -> str:
        return repr(fail.submit().state)

    assert (
        fails()
        == "Failed(message='Task run encountered an exception: ValueError: boom', type=FAILED)"
    )


def test_future_knows_its_task_run_name() -> None:
    @flow(task_runner=InlineTaskRunner())
    def names() -> str:
        return add.submit(1, 2).task_run_name

    assert names().startswith("add-")


def test_future_passed_to_another_task_is_its_result(thread_runner) -> None:
    @flow(task_runner=thread_runner)
    def chains() -> int:
        return add.submit(add.submit(1, 2), add.submit(3, 4)).result()

    assert chains() == 10


def test_task_downstream_of_a_failure_is_not_ready_naming_the_upstream(thread_runner) -> None:
    @flow(task_runner=thread_runner)
    def blocked() -> tuple[str, str, str]:
        upstream = fail.submit()
        downstream = add.submit(upstream, 1)
        state = downstream.wait()
        return state.name, state.message, upstream.task_run_name

    name, message, upstream = blocked()
    assert (name, message) == (
        "NotReady",
        f"Upstream task run {upstream!r} did not reach a 'COMPLETED' state.",
    )


# -- as_completed -------------------------------------------------------------------------------


def test_as_completed_yields_futures_in_the_order_they_finish(thread_runner) -> None:
    first_gate, second_gate = threading.Event(), threading.Event()

    @flow(task_runner=thread_runner)
    def in_order() -> list[str]:
        futures = [gated.submit(first_gate, "first"), gated.submit(second_gate, "second")]
        second_gate.set()
        finished = []
        for future in taskloom.as_completed(futures, timeout=10):
            finished.append(future.result())
            first_gate.set()
        return finished

    assert in_order() == ["second", "first"]


def test_as_completed_yields_finished_futures(thread_runner) -> None:
    @flow(task_runner=thread_runner)
    def all_done() -> list[bool]:
        return [f.done() for f in taskloom.as_completed(add.map([1, 2, 3], [1, 1, 1]))]

    assert all_done() == [True, True, True]


def test_as_completed_raises_timeout_error_when_a_run_is_late(thread_runner) -> None:
    gate = threading.Event()

    @flow(task_runner=thread_runner)
    def late() -> list[Any]:
        futures = [add.submit(1, 1), gated.submit(gate)]
        seen = []

        def collect() -> None:
            for future in taskloom.as_completed(futures, timeout=0.2):
                seen.append(future.result())

        try:
            with pytest.raises(TimeoutError):
                collect()
        finally:
            gate.set()
        return seen

    assert late() == [2]


def test_as_completed_yields_each_future_once() -> None:
    @flow(task_runner=InlineTaskRunner())
    def duplicates() -> int:
        future = add.submit(1, 1)
        return len(list(taskloom.as_completed([future, future])))

    assert duplicates() == 1


# -- wait ---------------------------------------------------------------------------------------


def test_wait_on_many_returns_all_done(thread_runner) -> None:
    @flow(task_runner=thread_runner)
    def waits() -> tuple[int, int]:
        done, not_done = taskloom.wait(add.map([1, 2, 3], [1, 1, 1]))
        return len(done), len(not_done)

    assert waits() == (3, 0)


def test_wait_on_many_with_a_timeout_splits_done_and_not_done(thread_runner) -> None:
    gate = threading.Event()

    @flow(task_runner=thread_runner)
    def waits() -> tuple[bool, bool]:
        quick, slow = add.submit(1, 1), gated.submit(gate)
        quick.wait()
        done, not_done = taskloom.wait([quick, slow], timeout=0.2)
        gate.set()
        return done == {quick}, not_done == {slow}

    assert waits() == (True, True)
