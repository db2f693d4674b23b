"""Tasks: calls, submissions and maps inside a flow run, their options, retries and timeouts."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest

from taskloom import flow, task, unmapped
from taskloom.states import StateType
from taskloom.testing import InlineTaskRunner

INLINE = InlineTaskRunner()


@task
def add(x: int, y: int = 0) -> int:
    return x + y


@task
def echo(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, kwargs


# -- outside a flow -----------------------------------------------------------------------------


def test_calling_a_task_outside_a_flow_calls_the_function() -> None:
    assert add(1, 2) == 3


def test_submit_outside_a_flow_raises_runtime_error_saying_so() -> None:
    with pytest.raises(RuntimeError, match=r"'add'\.submit\(\) was called outside of a flow run"):
        add.submit(1, 2)


def test_map_outside_a_flow_raises_runtime_error_saying_so() -> None:
    with pytest.raises(RuntimeError, match=r"'add'\.map\(\) was called outside of a flow run"):
        add.map([1, 2])


# -- inside a flow ------------------------------------------------------------------------------


def test_calling_a_task_in_a_flow_returns_its_result() -> None:
    @flow(task_runner=INLINE)
    def calls() -> int:
        return add(1, 2)

    assert calls() == 3


def test_calling_a_failing_task_in_a_flow_raises_its_exception() -> None:
    @task
    def fails() -> None:
        raise LookupError("not here")

    @flow(task_runner=INLINE)
    def calls() -> None:
        fails()

    with pytest.raises(LookupError, match="not here"):
        calls()


def test_keyword_arguments_reach_the_task() -> None:
    @flow(task_runner=INLINE)
    def calls() -> Any:
        return echo(1, key="value")

    assert calls() == ((1,), {"key": "value"})


def test_future_inside_a_tuple_argument_is_resolved() -> None:
    @flow(task_runner=INLINE)
    def nested() -> Any:
        return echo((add.submit(1), {"k": [add.submit(2)]}))

    assert nested() == (((1, {"k": [2]}),), {})


def test_future_inside_a_set_argument_is_resolved() -> None:
    @flow(task_runner=INLINE)
    def in_set() -> Any:
        return echo({add.submit(5)})

    assert in_set() == (({5},), {})


def test_task_name_defaults_to_the_function_name() -> None:
    assert add.name == "add"


def test_task_name_can_be_given() -> None:
    @task(name="custom")
    def named() -> None:
        pass

    assert named.name == "custom"


def test_task_keeps_its_tags() -> None:
    @task(tags=["a", "b"])
    def tagged() -> None:
        pass

    assert tagged.tags == frozenset({"a", "b"})


def test_task_with_options_changes_only_the_given_options() -> None:
    renamed = add.with_options(name="renamed", retries=2)
    assert (renamed.name, renamed.retries, renamed.fn) == ("renamed", 2, add.fn)
    assert add.name == "add"


def test_task_with_options_rejects_unknown_options() -> None:
    with pytest.raises(TypeError, match="colour"):
        add.with_options(colour="red")


# -- option validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"retries": 1.5},
        {"retries": True},
        {"retries": "3"},
        {"retry_delay_seconds": "1"},
        {"timeout_seconds": "1"},
        {"tags": "single-string"},
        {"tags": [1, 2]},
        {"name": ""},
        {"name": 3},
    ],
)
def test_task_options_of_the_wrong_type_are_type_errors(options: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        task(**options)(lambda: None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, "retries must be zero or more"),
        ({"retry_delay_seconds": -0.5}, "retry_delay_seconds must be zero or more"),
        ({"timeout_seconds": 0}, "timeout_seconds must be positive"),
        ({"timeout_seconds": -1}, "timeout_seconds must be positive"),
    ],
)
def test_task_options_out_of_range_are_value_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        task(**options)(lambda: None)


def test_task_of_a_non_callable_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="function"):
        task(42)  # type: ignore[call-overload]


# -- map ----------------------------------------------------------------------------------------


def test_map_gives_one_future_per_element() -> None:
    @flow(task_runner=INLINE)
    def maps() -> list[int]:
        return [f.result() for f in add.map([1, 2, 3], [10, 20, 30])]

    assert maps() == [11, 22, 33]


def test_map_passes_unmapped_arguments_whole() -> None:
    @flow(task_runner=INLINE)
    def maps() -> list[Any]:
        return [f.result() for f in echo.map([1, 2], unmapped([7, 8]))]

    assert maps() == [((1, [7, 8]), {}), ((2, [7, 8]), {})]


def test_map_does_not_iterate_strings() -> None:
    @flow(task_runner=INLINE)
    def maps() -> list[Any]:
        return [f.result() for f in echo.map([1, 2], "xy")]

    assert maps() == [((1, "xy"), {}), ((2, "xy"), {})]


def test_map_maps_keyword_arguments() -> None:
    @flow(task_runner=INLINE)
    def maps() -> list[int]:
        return [f.result() for f in add.map(x=[1, 2], y=[10, 20])]

    assert maps() == [11, 22]


def test_map_over_iterables_of_different_lengths_is_a_value_error() -> None:
    @flow(task_runner=INLINE)
    def maps() -> None:
        add.map([1, 2, 3], [1, 2])

    with pytest.raises(ValueError, match=r"different lengths: \[2, 3\]"):
        maps()


def test_map_without_an_iterable_is_a_type_error() -> None:
    @flow(task_runner=INLINE)
    def maps() -> None:
        add.map(1, 2)

    with pytest.raises(TypeError, match="iterable"):
        maps()


def test_map_over_an_empty_iterable_gives_no_futures() -> None:
    @flow(task_runner=INLINE)
    def maps() -> list[Any]:
        return add.map([])

    assert maps() == []


# -- retries ------------------------------------------------------------------------------------


def test_retries_rerun_the_task_until_it_completes() -> None:
    attempts: list[int] = []

    @task(retries=3)
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("not yet")
        return len(attempts)

    @flow(task_runner=INLINE)
    def retries() -> int:
        return flaky()

    assert retries() == 3


def test_task_fails_once_its_retries_are_spent() -> None:
    attempts: list[int] = []

    @task(retries=2)
    def always_fails() -> None:
        attempts.append(1)
        raise RuntimeError(f"attempt {len(attempts)}")

    @flow(task_runner=INLINE)
    def retries() -> None:
        always_fails()

    with pytest.raises(RuntimeError, match="attempt 3"):
        retries()
    assert len(attempts) == 3


def test_retry_delay_seconds_waits_between_attempts() -> None:
    times: list[float] = []

    @task(retries=2, retry_delay_seconds=0.2)
    def flaky() -> None:
        times.append(time.monotonic())
        if len(times) < 3:
            raise RuntimeError("not yet")

    @flow(task_runner=INLINE)
    def retries() -> None:
        flaky()

    retries()
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert len(gaps) == 2
    assert all(gap >= 0.19 for gap in gaps)


# -- timeouts -----------------------------------------------------------------------------------


def test_sync_task_past_its_timeout_fails_timed_out() -> None:
    @task(timeout_seconds=0.2)
    def slow() -> None:
        for _ in range(50):
            time.sleep(0.1)

    @flow(task_runner=INLINE)
    def times_out() -> Any:
        future = slow.submit()
        return future.state.type, future.state.name, future.state.message

    started = time.monotonic()
    assert times_out() == (
        StateType.FAILED,
        "TimedOut",
        "Task run exceeded timeout of 0.2 second(s)",
    )
    assert time.monotonic() - started < 3


def test_async_task_past_its_timeout_fails_timed_out() -> None:
    @task(timeout_seconds=0.2)
    async def slow() -> None:
        await asyncio.sleep(5)

    @flow(task_runner=INLINE)
    def times_out() -> Any:
        future = slow.submit()
        return future.state.type, future.state.name

    started = time.monotonic()
    assert times_out() == (StateType.FAILED, "TimedOut")
    assert time.monotonic() - started < 3


def test_task_within_its_timeout_completes() -> None:
    @task(timeout_seconds=5)
    def quick() -> str:
        return "in time"

    @flow(task_runner=INLINE)
    def in_time() -> str:
        return quick()

    assert in_time() == "in time"


def test_task_raising_timeout_error_itself_fails_without_being_timed_out() -> None:
    @task(timeout_seconds=5)
    def raises_timeout() -> None:
        raise TimeoutError("my own")

    @flow(task_runner=INLINE)
    def own_timeout() -> str:
        future = raises_timeout.submit()
        return future.state.name

    assert own_timeout() == "Failed"


def test_timed_out_task_is_retried() -> None:
    attempts: list[int] = []

    @task(timeout_seconds=0.2, retries=1)
    def slow_once() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            for _ in range(50):
                time.sleep(0.1)
        return "second attempt"

    @flow(task_runner=INLINE)
    def retried() -> str:
        return slow_once()

    assert retried() == "second attempt"


# -- crashes ------------------------------------------------------------------------------------


def test_keyboard_interrupt_raised_by_a_task_crashes_only_that_task() -> None:
    @task
    def interrupts() -> None:
        raise KeyboardInterrupt

    @flow(task_runner=INLINE)
    def goes_on() -> Any:
        crashed = interrupts.submit()
        return crashed.state.type, add(1, 1)

    assert goes_on() == (StateType.CRASHED, 2)
