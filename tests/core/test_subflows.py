"""Subflows: a flow called in a flow run gets its own run and runner, and counts toward it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from taskloom import flow, task
from taskloom.futures import TaskloomFuture
from taskloom.task_runners import TaskCall
from taskloom.testing import InlineTaskRunner

EVENTS: list[str] = []


class TracingRunner(InlineTaskRunner):
    """Records its start, submissions and shutdown in `EVENTS`, tagged with its label."""

    def __init__(self, label: str = "runner") -> None:
        super().__init__()
        self.label = label

    def _start(self) -> None:
        EVENTS.append(f"{self.label} start")

    def _shutdown(self) -> None:
        EVENTS.append(f"{self.label} shutdown")

    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        EVENTS.append(f"{self.label} runs {call.task.name}")
        return super().submit(call, upstream)


@pytest.fixture(autouse=True)
def _clear_events() -> None:
    EVENTS.clear()


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def fail() -> None:
    raise ValueError("child failed")


@flow(task_runner=TracingRunner("child"))
def child(x: int) -> int:
    return add(x, 1)


def test_subflow_returns_its_value_to_the_parent() -> None:
    @flow(task_runner=TracingRunner("parent"))
    def parent() -> int:
        return child(1) * 10

    assert parent() == 20


def test_subflow_runs_its_tasks_on_its_own_runner_started_around_it() -> None:
    @flow(task_runner=TracingRunner("parent"))
    def parent() -> None:
        add(1, 1)
        child(1)
        add(1, 1)

    parent()
    assert EVENTS == [
        "parent start",
        "parent runs add",
        "child start",
        "child runs add",
        "child shutdown",
        "parent runs add",
        "parent shutdown",
    ]


def test_parent_future_passed_to_a_subflow_is_resolved_to_its_result() -> None:
    @flow(task_runner=TracingRunner("parent"))
    def parent() -> int:
        return child(add.submit(1, 1))

    assert parent() == 3


def test_failed_subflow_fails_the_parent() -> None:
    @flow(task_runner=InlineTaskRunner())
    def failing_child() -> None:
        fail.submit()

    @flow(task_runner=TracingRunner("parent"))
    def parent() -> None:
        add.submit(1, 1)
        failing_child(return_state=True)

    state = parent(return_state=True)
    assert state.is_failed()
    assert state.message == "1/2 states failed."
    with pytest.raises(ValueError, match="child failed"):
        state.result()


def test_exception_of_a_subflow_propagates_in_the_parent() -> None:
    @flow(task_runner=InlineTaskRunner())
    def raising_child() -> None:
        raise LookupError("from the child")

    @flow(task_runner=InlineTaskRunner())
    def parent() -> None:
        raising_child()

    with pytest.raises(LookupError, match="from the child"):
        parent()


def test_parent_can_handle_a_subflow_failure_and_still_complete() -> None:
    @flow(task_runner=InlineTaskRunner())
    def raising_child() -> None:
        raise LookupError("from the child")

    @flow(task_runner=InlineTaskRunner())
    def parent() -> str:
        try:
            raising_child()
        except LookupError:
            return "handled"
        return "not reached"

    assert parent() == "handled"


def test_completed_subflows_count_toward_the_parent() -> None:
    @flow(task_runner=InlineTaskRunner())
    def empty_child() -> None:
        pass

    @flow(task_runner=InlineTaskRunner())
    def parent() -> None:
        empty_child()
        empty_child()

    assert parent(return_state=True).message == "All states completed."


def test_subflow_with_the_parents_runner_config_gets_a_runner_of_its_own() -> None:
    runner = TracingRunner("shared")

    @flow(task_runner=runner)
    def inner() -> None:
        add(1, 1)

    @flow(task_runner=runner)
    def outer() -> None:
        inner()

    outer()
    assert EVENTS == [
        "shared start",
        "shared start",
        "shared runs add",
        "shared shutdown",
        "shared shutdown",
    ]
