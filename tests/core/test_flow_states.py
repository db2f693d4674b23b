"""A flow run's final state comes from what its function did (the contract's four rules)."""

from __future__ import annotations

import re

import pytest

from taskloom import flow, task
from taskloom.exceptions import UpstreamTaskError
from taskloom.states import Completed, Failed, State, StateType
from taskloom.testing import InlineTaskRunner

INLINE = InlineTaskRunner()


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def fail(message: str = "boom") -> None:
    raise ValueError(message)


# -- it raised ----------------------------------------------------------------------------------


def test_raising_flow_fails_with_that_exception() -> None:
    error = KeyError("missing")

    @flow(task_runner=INLINE)
    def raises() -> None:
        raise error

    state = raises(return_state=True)
    assert state.is_failed()
    assert state.result(raise_on_failure=False) is error


def test_raising_flow_says_so_in_its_message() -> None:
    @flow(task_runner=INLINE)
    def raises() -> None:
        raise KeyError("missing")

    assert raises(return_state=True).message == (
        "Flow run encountered an exception: KeyError: 'missing'"
    )


def test_calling_a_raising_flow_raises_its_exception() -> None:
    @flow(task_runner=INLINE)
    def raises() -> None:
        raise KeyError("missing")

    with pytest.raises(KeyError, match="missing"):
        raises()


def test_raising_flow_fails_even_when_its_tasks_completed() -> None:
    @flow(task_runner=INLINE)
    def raises_after_work() -> None:
        add(1, 1)
        raise RuntimeError("late")

    assert raises_after_work(return_state=True).type is StateType.FAILED


# -- it returned states or futures ------------------------------------------------------------


def test_returned_completed_state_completes_the_flow() -> None:
    @flow(task_runner=INLINE)
    def returns_state() -> State:
        return Completed(data=7)

    state = returns_state(return_state=True)
    assert repr(state) == "Completed(message='All states completed.', type=COMPLETED)"
    assert state.result() == 7


def test_returned_failed_state_fails_the_flow_even_with_completed_tasks() -> None:
    @flow(task_runner=INLINE)
    def returns_failure() -> State:
        add(1, 1)
        return Failed("told so", data=ValueError("told"))

    state = returns_failure(return_state=True)
    assert state.is_failed()
    assert state.message == "1/1 states failed."
    assert str(state.result(raise_on_failure=False)) == "told"


def test_returned_future_gives_its_result_as_the_flow_result() -> None:
    @flow(task_runner=INLINE)
    def returns_future():
        return add.submit(2, 3)

    assert returns_future() == 5


def test_returned_failed_future_fails_the_flow_though_other_tasks_completed() -> None:
    @flow(task_runner=INLINE)
    def returns_future():
        add.submit(1, 1)
        return fail.submit("only this")

    state = returns_future(return_state=True)
    assert state.is_failed()
    assert state.message == "1/1 states failed."
    with pytest.raises(ValueError, match="only this"):
        state.result()


def test_returned_list_of_futures_is_aggregated() -> None:
    @flow(task_runner=INLINE)
    def returns_list():
        return [add.submit(1, 1), fail.submit(), add.submit(2, 2)]

    state = returns_list(return_state=True)
    assert (state.type, state.message) == (StateType.FAILED, "1/3 states failed.")


def test_returned_completed_list_of_futures_gives_their_results() -> None:
    @flow(task_runner=INLINE)
    def returns_list():
        return [add.submit(1, 1), add.submit(2, 2)]

    assert returns_list() == [2, 4]


def test_returned_tuple_of_futures_gives_a_tuple_of_results() -> None:
    @flow(task_runner=INLINE)
    def returns_tuple():
        return add.submit(1, 1), add.submit(2, 2)

    assert returns_tuple() == (2, 4)


def test_returned_dict_of_futures_is_aggregated() -> None:
    @flow(task_runner=INLINE)
    def returns_dict():
        return {"a": fail.submit(), "b": fail.submit(), "c": add.submit(1, 1)}

    state = returns_dict(return_state=True)
    assert state.message == "2/3 states failed."


def test_returned_dict_of_completed_futures_gives_their_results() -> None:
    @flow(task_runner=INLINE)
    def returns_dict():
        return {"a": add.submit(1, 1), "b": add.submit(2, 2)}

    assert returns_dict() == {"a": 2, "b": 4}


# -- it returned None -------------------------------------------------------------------------


def test_none_with_all_tasks_completed_is_completed() -> None:
    @flow(task_runner=INLINE)
    def works() -> None:
        add(1, 1)
        add.submit(2, 2)

    state = works(return_state=True)
    assert repr(state) == "Completed(message='All states completed.', type=COMPLETED)"


def test_none_without_any_task_is_completed() -> None:
    @flow(task_runner=INLINE)
    def empty() -> None:
        pass

    assert empty(return_state=True).message == "All states completed."


def test_none_aggregates_every_task_run_of_the_flow_run() -> None:
    @flow(task_runner=INLINE)
    def some_fail() -> None:
        add.submit(1, 1)
        fail.submit()
        fail.submit()
        add.submit(2, 2)

    state = some_fail(return_state=True)
    assert repr(state) == "Failed(message='2/4 states failed.', type=FAILED)"


def test_none_counts_runs_that_never_ran_because_an_upstream_failed() -> None:
    @flow(task_runner=INLINE)
    def blocked() -> None:
        upstream = fail.submit()
        add.submit(upstream, 1)
        add.submit(1, 1)

    assert blocked(return_state=True).message == "2/3 states failed."


def test_none_aggregates_subflow_runs_too() -> None:
    @flow(task_runner=INLINE)
    def child() -> None:
        fail.submit()

    @flow(task_runner=INLINE)
    def parent() -> None:
        add.submit(1, 1)
        child(return_state=True)
        add.submit(1, 1)

    assert parent(return_state=True).message == "1/3 states failed."


def test_none_with_failures_raises_the_first_failure_when_called() -> None:
    @flow(task_runner=INLINE)
    def two_failures() -> None:
        add.submit(1, 1)
        fail.submit("first")
        fail.submit("second")

    with pytest.raises(ValueError, match="first"):
        two_failures()


# -- it returned anything else ----------------------------------------------------------------


def test_returned_value_completes_the_flow_with_it() -> None:
    @flow(task_runner=INLINE)
    def returns_value() -> dict[str, int]:
        return {"x": add(1, 1)}

    state = returns_value(return_state=True)
    assert repr(state) == "Completed(message=None, type=COMPLETED)"
    assert state.result() == {"x": 2}


def test_returned_value_completes_the_flow_even_when_a_task_failed() -> None:
    @flow(task_runner=INLINE)
    def ignores_failure() -> str:
        fail.submit()
        return "done anyway"

    assert ignores_failure() == "done anyway"


def test_calling_a_flow_returns_the_function_return_value() -> None:
    @flow(task_runner=INLINE)
    def returns_list() -> list[int]:
        return [1, 2, 3]

    assert returns_list() == [1, 2, 3]


def test_return_state_gives_the_final_state_instead_of_the_value() -> None:
    @flow(task_runner=INLINE)
    def returns_value() -> int:
        return 42

    state = returns_value(return_state=True)
    assert isinstance(state, State)
    assert state.result() == 42


def test_return_state_does_not_raise_for_a_failed_flow() -> None:
    @flow(task_runner=INLINE)
    def raises() -> None:
        raise ValueError("kept in the state")

    assert raises(return_state=True).is_failed()


@task
def fails_with(value: int) -> int:
    raise ValueError(f"bad {value}")


def raised_by(fn: object) -> BaseException:
    with pytest.raises((ValueError, UpstreamTaskError)) as caught:
        fn()  # type: ignore[operator]
    return caught.value


def test_an_upstream_failure_is_the_cause_of_the_flows_exception() -> None:
    @flow(task_runner=InlineTaskRunner())
    def downstream() -> int:
        return add(fails_with.submit(1), 1)

    error = raised_by(downstream)
    assert type(error).__name__ == "UpstreamTaskError"
    assert repr(error.__cause__) == "ValueError('bad 1')"


def test_the_flows_exception_names_the_first_task_run_that_failed() -> None:
    @flow(task_runner=InlineTaskRunner())
    def downstream() -> int:
        return add(fails_with.submit(1), 1)

    notes = raised_by(downstream).__notes__
    assert len(notes) == 1
    assert re.fullmatch(
        r"The first task run that failed: 'fails_with-\w+-0' \(ValueError: bad 1\)\.", notes[0]
    )


def test_a_task_error_raised_by_the_flow_says_which_run_raised_it() -> None:
    @flow(task_runner=InlineTaskRunner())
    def returns_failures() -> None:
        fails_with.submit(1)
        fails_with.submit(2)

    error = raised_by(returns_failures)
    assert repr(error) == "ValueError('bad 1')"
    assert re.fullmatch(
        r"Raised by task run 'fails_with-\w+-0'\. "
        r"Failed task runs: 'fails_with-\w+-0', 'fails_with-\w+-1'\.",
        error.__notes__[0],
    )


def test_the_failed_task_runs_are_listed_ten_then_counted() -> None:
    @flow(task_runner=InlineTaskRunner())
    def many_failures() -> None:
        fails_with.map(range(13))

    note = raised_by(many_failures).__notes__[0]
    listed = re.findall(r"'fails_with-\w+-(\d+)'", note.split("Failed task runs: ")[1])
    assert listed == [str(i) for i in range(10)]
    assert note.endswith(" and 3 more.")


def test_the_flow_states_message_keeps_the_contracts_words() -> None:
    @flow(task_runner=InlineTaskRunner())
    def many_failures() -> None:
        fails_with.map(range(3))

    assert many_failures(return_state=True).message == "3/3 states failed."
