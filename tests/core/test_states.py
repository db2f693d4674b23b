"""States: their types, names, messages, repr, and the value or exception they carry."""

from __future__ import annotations

import pickle

import pytest

from taskloom.exceptions import CrashedRun, FailedRun, UpstreamTaskError
from taskloom.states import (
    Cancelled,
    Completed,
    Crashed,
    Failed,
    Pending,
    Running,
    State,
    StateType,
)


def test_state_types_are_the_six_of_the_contract() -> None:
    assert [kind.name for kind in StateType] == [
        "PENDING",
        "RUNNING",
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "CRASHED",
    ]


@pytest.mark.parametrize(
    ("constructor", "kind", "name"),
    [
        (Pending, StateType.PENDING, "Pending"),
        (Running, StateType.RUNNING, "Running"),
        (Completed, StateType.COMPLETED, "Completed"),
        (Failed, StateType.FAILED, "Failed"),
        (Cancelled, StateType.CANCELLED, "Cancelled"),
        (Crashed, StateType.CRASHED, "Crashed"),
    ],
)
def test_constructor_gives_its_type_and_name(constructor, kind: StateType, name: str) -> None:
    state = constructor("why")
    assert (state.type, state.name, state.message) == (kind, name, "why")


def test_repr_of_a_plain_completed_state() -> None:
    assert repr(Completed()) == "Completed(message=None, type=COMPLETED)"


def test_repr_quotes_the_message() -> None:
    assert (
        repr(Completed("All states completed."))
        == "Completed(message='All states completed.', type=COMPLETED)"
    )


def test_repr_shows_a_custom_name() -> None:
    state = Failed("too slow", name="TimedOut")
    assert repr(state) == "TimedOut(message='too slow', type=FAILED)"


def test_predicates_follow_the_type() -> None:
    assert Completed().is_completed() and not Completed().is_failed()
    assert Failed().is_failed() and not Failed().is_completed()
    assert Crashed().is_crashed()
    assert Pending().is_pending() and Running().is_running() and Cancelled().is_cancelled()


def test_only_pending_and_running_are_not_final() -> None:
    final = [s().is_final() for s in (Pending, Running, Completed, Failed, Cancelled, Crashed)]
    assert final == [False, False, True, True, True, True]


def test_result_of_a_completed_state_is_its_data() -> None:
    assert Completed(data=[1, 2]).result() == [1, 2]


def test_result_of_a_failed_state_raises_its_exception() -> None:
    error = ValueError("bad")
    with pytest.raises(ValueError, match="bad") as raised:
        Failed(data=error).result()
    assert raised.value is error


def test_result_without_raising_returns_the_exception() -> None:
    error = ValueError("bad")
    assert Failed(data=error).result(raise_on_failure=False) is error


def test_failed_state_without_an_exception_raises_failed_run() -> None:
    with pytest.raises(FailedRun, match="nothing to show"):
        Failed("nothing to show").result()


def test_crashed_state_raises_crashed_run_not_the_base_exception() -> None:
    with pytest.raises(CrashedRun, match="worker died"):
        Crashed("worker died", data=KeyboardInterrupt()).result()


def test_not_ready_state_raises_upstream_task_error() -> None:
    state = Pending("Upstream task run 'a-00000000-0' failed.", name="NotReady")
    with pytest.raises(UpstreamTaskError, match="a-00000000-0"):
        state.result()


def test_completed_loader_runs_once_and_only_when_the_data_is_needed() -> None:
    calls: list[int] = []

    def load() -> str:
        calls.append(1)
        return "remote value"

    state = Completed(loader=load)
    assert state.is_completed() and calls == []
    assert state.result() == "remote value"
    assert state.result() == "remote value"
    assert calls == [1]


def test_state_pickles_with_its_data() -> None:
    state = pickle.loads(pickle.dumps(Failed("bad", name="TimedOut", data=ValueError("x"))))
    assert isinstance(state, State)
    assert repr(state) == "TimedOut(message='bad', type=FAILED)"
    assert isinstance(state.result(raise_on_failure=False), ValueError)
