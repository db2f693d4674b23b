"""The runner toolkit in `taskloom.task_runners`: what runner plugins are written with."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from taskloom import flow, task
from taskloom.futures import FinishedFuture, TaskloomFuture
from taskloom.states import Completed, State, StateType
from taskloom.task_runners import (
    TaskCall,
    TaskRunner,
    ThreadCalls,
    unstarted_upstream_first,
    when_final,
)


class ManualFuture(TaskloomFuture):
    """A future the test finishes by hand, calling back like a runner's would."""

    __slots__ = ("_callbacks", "_state", "upstream")

    def __init__(self, call: Any = None, upstream: Sequence[ManualFuture] = ()) -> None:
        super().__init__(call)
        self._state: State | None = None
        self._callbacks: list[Callable[[TaskloomFuture], Any]] = []
        self.upstream = upstream

    def finish(self) -> None:
        self._state = Completed()
        for callback in self._callbacks:
            callback(self)

    def _wait(self, timeout: float | None) -> State | None:
        return self._state

    def done(self) -> bool:
        return self._state is not None

    def add_done_callback(self, fn: Callable[[TaskloomFuture], Any]) -> None:
        if self._state is None:
            self._callbacks.append(fn)
        else:
            fn(self)


_captured: list[TaskCall] = []


class CapturingRunner(TaskRunner):
    """Keeps the calls submitted to it, unrun: the tests run them."""

    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        _captured.append(call)
        return FinishedFuture(call, Completed())


def call_of(fn: Callable[..., Any], *args: Any) -> TaskCall:
    """A task call of `fn(*args)`, as a runner receives it."""

    @flow(task_runner=CapturingRunner())
    def submits() -> None:
        task(fn).submit(*args)

    submits()
    return _captured.pop()


# -- ThreadCalls ---------------------------------------------------------------------------------


def test_a_call_run_through_thread_calls_ends_in_its_state() -> None:
    state = ThreadCalls().run(call_of(lambda x: x * 2, 21), ())
    assert (state.type, state.result()) == (StateType.COMPLETED, 42)


def test_stop_ends_a_running_call_cancelled() -> None:
    started, outcome = threading.Event(), []
    calls = ThreadCalls()

    def spin() -> None:
        started.set()
        while True:  # Python code: it sees the exception at its next instruction
            time.sleep(0.01)

    call = call_of(spin)
    thread = threading.Thread(target=lambda: outcome.append(calls.run(call, ())))
    thread.start()
    assert started.wait(5)
    assert calls.stop() == 1
    thread.join(5)
    assert not thread.is_alive()
    (state,) = outcome
    assert state.type is StateType.CANCELLED
    assert state.message == "Task run was cancelled while it ran: its flow run was cancelled."


def test_a_call_after_stop_does_not_run() -> None:
    ran = []
    calls = ThreadCalls()
    calls.stop()
    state = calls.run(call_of(lambda: ran.append(True)), ())
    assert ran == []
    assert state.message == "Task run was cancelled before it started: its flow run was cancelled."


def test_stop_tells_no_thread_that_runs_no_call() -> None:
    assert ThreadCalls().stop() == 0


def test_a_call_run_inside_another_leaves_the_outer_one_stoppable() -> None:
    calls = ThreadCalls()
    started, outcome = threading.Event(), []
    inner = call_of(lambda: None)

    def outer_body() -> None:
        calls.run(inner, ())
        started.set()
        while True:
            time.sleep(0.01)

    thread = threading.Thread(target=lambda: outcome.append(calls.run(call_of(outer_body), ())))
    thread.start()
    assert started.wait(5)
    assert calls.stop() == 1
    thread.join(5)
    assert outcome[0].type is StateType.CANCELLED


# -- when_final ----------------------------------------------------------------------------------


def test_when_final_starts_at_once_when_every_upstream_is_final() -> None:
    done = ManualFuture()
    done.finish()
    started = []
    when_final([done], lambda: started.append(True))
    assert started == [True]


def test_when_final_starts_once_from_the_last_upstream_to_finish() -> None:
    first, second = ManualFuture(), ManualFuture()
    started = []
    when_final([first, second], lambda: started.append(True))
    first.finish()
    assert started == []
    second.finish()
    assert started == [True]


# -- unstarted_upstream_first --------------------------------------------------------------------


def _unstarted(future: TaskloomFuture) -> bool:
    return isinstance(future, ManualFuture) and not future.done()


def _upstream_of(future: ManualFuture) -> Sequence[ManualFuture]:
    return future.upstream


def test_unstarted_upstream_runs_come_before_the_runs_that_wait_for_them() -> None:
    root = ManualFuture()
    left, right = ManualFuture(upstream=[root]), ManualFuture(upstream=[root])
    top = ManualFuture(upstream=[left, right])
    order = unstarted_upstream_first(top, _unstarted, _upstream_of)
    assert order == [root, left, right, top]


def test_runs_already_started_are_left_out() -> None:
    started = ManualFuture()
    started.finish()
    top = ManualFuture(upstream=[started])
    assert unstarted_upstream_first(top, _unstarted, _upstream_of) == [top]


def test_a_long_chain_does_not_exhaust_the_stack() -> None:
    future = ManualFuture()
    for _ in range(20_000):
        future = ManualFuture(upstream=[future])
    assert len(unstarted_upstream_first(future, _unstarted, _upstream_of)) == 20_001


@pytest.fixture(autouse=True)
def _no_calls_left() -> Any:
    yield
    _captured.clear()
