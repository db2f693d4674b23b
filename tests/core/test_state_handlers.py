"""State handlers on tasks and flows, and a flow's terminal state handler (Prefect 1's)."""

from __future__ import annotations

from typing import Any

import pytest

from taskloom import Flow, flow, task
from taskloom.states import Completed, Failed, State
from taskloom.testing import InlineTaskRunner


def recorder(seen: list[tuple[str, str, str]]) -> Any:
    def handler(obj: Any, old: State, new: State) -> None:
        seen.append((obj.name, old.name, new.name))

    return handler


def test_a_task_state_handler_sees_the_run_start_and_end() -> None:
    seen: list[tuple[str, str, str]] = []

    @task(state_handlers=[recorder(seen)])
    def watched() -> int:
        return 1

    @flow(task_runner=InlineTaskRunner())
    def watching() -> int:
        return watched()

    assert watching() == 1
    assert seen == [("watched", "Pending", "Running"), ("watched", "Running", "Completed")]


def test_a_task_state_handler_may_replace_the_final_state() -> None:
    def forgive(task: Any, old: State, new: State) -> State | None:
        return Completed(data="forgiven") if new.is_failed() else None

    @task(state_handlers=[forgive])
    def failing() -> None:
        raise ValueError("no")

    @flow(task_runner=InlineTaskRunner())
    def forgiving() -> Any:
        return failing()

    assert forgiving() == "forgiven"


def test_a_task_state_handler_that_raises_fails_the_run() -> None:
    def broken(task: Any, old: State, new: State) -> None:
        raise RuntimeError("handler broke")

    @task(state_handlers=[broken])
    def fine() -> int:
        return 1

    @flow(task_runner=InlineTaskRunner())
    def with_broken_handler() -> State:
        return fine.submit().wait()  # type: ignore[return-value]

    state = with_broken_handler(return_state=True)

    error = state.result(raise_on_failure=False)
    assert state.is_failed()
    assert isinstance(error, RuntimeError) and str(error) == "handler broke"


def test_a_task_state_handler_that_ends_the_run_before_it_starts_skips_the_function() -> None:
    ran = []

    def veto(task: Any, old: State, new: State) -> State | None:
        return Failed("vetoed") if new.is_running() else None

    @task(state_handlers=[veto])
    def vetoed() -> None:
        ran.append(1)

    @flow(task_runner=InlineTaskRunner())
    def vetoing() -> State:
        return vetoed.submit().wait()  # type: ignore[return-value]

    assert vetoing(return_state=True).is_failed()
    assert ran == []


def test_state_handlers_must_be_a_list_of_functions() -> None:
    with pytest.raises(TypeError, match="list of functions"):
        task(lambda: None, state_handlers=recorder([]))
    with pytest.raises(TypeError, match="must be callable"):
        task(lambda: None, state_handlers=[1])


def test_a_flow_state_handler_sees_the_run_start_and_end() -> None:
    seen: list[tuple[str, str, str]] = []

    @flow(task_runner=InlineTaskRunner(), state_handlers=[recorder(seen)])
    def watched_flow() -> int:
        return 1

    assert watched_flow() == 1
    assert seen == [
        ("watched-flow", "Pending", "Running"),
        ("watched-flow", "Running", "Completed"),
    ]


def test_the_terminal_state_handler_is_called_once_and_may_replace_the_state() -> None:
    calls: list[tuple[State, set[State]]] = []

    @task
    def one() -> int:
        return 1

    def terminal(flow: Any, state: State, reference: set[State]) -> State:
        calls.append((state, reference))
        return Failed("judged failed")

    with Flow("judged", task_runner=InlineTaskRunner()) as graph_flow:
        one()
    graph_flow.terminal_state_handler = terminal

    state = graph_flow.run()

    assert len(calls) == 1
    assert calls[0][0].is_completed()
    assert [s.result() for s in calls[0][1]] == [1]
    assert state.is_failed() and state.message == "judged failed"


def test_a_terminal_state_handler_that_raises_fails_the_flow_run_and_is_named() -> None:
    def broken_terminal(flow: Any, state: State, reference: set[State]) -> None:
        raise RuntimeError("terminal broke")

    @task
    def one() -> int:
        return 1

    with Flow("judged-badly", task_runner=InlineTaskRunner()) as graph_flow:
        one()
    graph_flow.terminal_state_handler = broken_terminal

    state = graph_flow.run()

    assert state.is_failed()
    assert state.message == (
        "State handler test_a_terminal_state_handler_that_raises_fails_the_flow_run_and_is_named"
        ".<locals>.broken_terminal raised RuntimeError: terminal broke"
    )


def test_the_terminal_state_handler_is_given_the_flow_it_was_set_on() -> None:
    given: list[Any] = []

    @task
    def one() -> int:
        return 1

    with Flow("handled", task_runner=InlineTaskRunner()) as graph_flow:
        one()
    graph_flow.terminal_state_handler = lambda f, s, r: given.append(f)

    graph_flow.run(executor=InlineTaskRunner())

    assert given == [graph_flow]


def test_the_terminal_state_handler_is_given_only_the_terminal_nodes() -> None:
    seen: list[set[State]] = []

    @task
    def step(x: int) -> int:
        return x + 1

    with Flow("chain", task_runner=InlineTaskRunner()) as graph_flow:
        step(step(1))
    graph_flow.terminal_state_handler = lambda f, s, r: seen.append(r)

    graph_flow.run()

    assert [s.result() for s in seen[0]] == [3]
