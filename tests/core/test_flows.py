"""Flows: options, their task runner, copies with other options, timeouts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest

from taskloom import Flow, flow, task
from taskloom.exceptions import TaskRunnerError, UnknownTaskRunnerError
from taskloom.futures import TaskloomFuture
from taskloom.states import StateType
from taskloom.task_runners import TaskCall, TaskRunner
from taskloom.testing import InlineTaskRunner

INLINE = InlineTaskRunner()


class OtherRunner(InlineTaskRunner):
    pass


class RecordingRunner(InlineTaskRunner):
    """Remembers the runner objects that ran task runs."""

    used: ClassVar[list[TaskRunner]] = []

    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        RecordingRunner.used.append(self)
        assert self.started
        return super().submit(call, upstream)


@task
def add(x: int, y: int) -> int:
    return x + y


def test_flow_decorator_without_arguments_makes_a_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKLOOM_TASK_RUNNER", "taskloom.testing:InlineTaskRunner")

    @flow
    def bare() -> None:
        pass

    assert isinstance(bare, Flow)


def test_flow_keeps_the_function_metadata() -> None:
    @flow(task_runner=INLINE)
    def documented() -> None:
        """The docstring."""

    assert (documented.__name__, documented.__doc__) == ("documented", "The docstring.")


def test_flow_passes_arguments_to_the_function() -> None:
    @flow(task_runner=INLINE)
    def adds(x: int, *, y: int) -> int:
        return add(x, y)

    assert adds(1, y=2) == 3


def test_flow_of_a_non_callable_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="function"):
        flow(42)  # type: ignore[call-overload]


@pytest.mark.parametrize("timeout", [0, -1])
def test_flow_timeout_must_be_positive(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout_seconds"):
        flow(timeout_seconds=timeout, task_runner=INLINE)(lambda: None)


def test_flow_timeout_must_be_a_number() -> None:
    with pytest.raises(TypeError, match="timeout_seconds"):
        flow(timeout_seconds="1", task_runner=INLINE)(lambda: None)


def test_flow_name_must_be_a_non_empty_string() -> None:
    with pytest.raises(TypeError, match="name"):
        flow(name="", task_runner=INLINE)(lambda: None)


# -- the task runner ----------------------------------------------------------------------------


def test_task_runner_is_resolved_when_the_flow_is_defined() -> None:
    with pytest.raises(UnknownTaskRunnerError):

        @flow(task_runner="no-such-runner")
        def never() -> None:
            pass


def test_task_runner_attribute_is_the_resolved_runner() -> None:
    @flow(task_runner=OtherRunner)
    def configured() -> None:
        pass

    assert type(configured.task_runner) is OtherRunner


def test_task_runner_attribute_is_settable() -> None:
    @flow(task_runner=INLINE)
    def configured() -> None:
        pass

    configured.task_runner = OtherRunner  # type: ignore[assignment]
    assert type(configured.task_runner) is OtherRunner


def test_executor_attribute_is_the_task_runner() -> None:
    @flow(task_runner=INLINE)
    def configured() -> None:
        pass

    configured.executor = OtherRunner()  # type: ignore[assignment]
    assert configured.executor is configured.task_runner
    assert type(configured.task_runner) is OtherRunner


def test_executor_argument_sets_the_task_runner() -> None:
    runner = OtherRunner()

    @flow(executor=runner)
    def configured() -> None:
        pass

    assert configured.task_runner is runner


def test_task_runner_and_executor_together_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="not both"):
        flow(task_runner=INLINE, executor=INLINE)(lambda: None)


def test_setting_an_invalid_task_runner_is_a_type_error() -> None:
    @flow(task_runner=INLINE)
    def configured() -> None:
        pass

    with pytest.raises(TypeError):
        configured.task_runner = 42  # type: ignore[assignment]


def test_each_flow_run_uses_a_started_copy_of_the_configured_runner() -> None:
    configured_runner = RecordingRunner()
    RecordingRunner.used.clear()

    @flow(task_runner=configured_runner)
    def uses() -> None:
        add(1, 1)

    uses()
    uses()
    first, second = RecordingRunner.used
    assert first is not configured_runner and second is not configured_runner
    assert first is not second
    assert not configured_runner.started and not first.started


def test_flow_runs_tasks_on_a_runner_set_after_definition() -> None:
    RecordingRunner.used.clear()

    @flow(task_runner=INLINE)
    def uses() -> None:
        add(1, 1)

    uses.task_runner = RecordingRunner  # type: ignore[assignment]
    uses()
    assert len(RecordingRunner.used) == 1


# -- with_options -------------------------------------------------------------------------------


def test_with_options_returns_a_new_flow_with_the_new_name() -> None:
    @flow(task_runner=INLINE)
    def original() -> int:
        return 1

    renamed = original.with_options(name="renamed")
    assert isinstance(renamed, Flow) and renamed is not original
    assert (renamed.name, original.name) == ("renamed", "original")
    assert renamed() == 1


def test_with_options_changes_the_task_runner_only_on_the_copy() -> None:
    @flow(task_runner=INLINE)
    def original() -> None:
        pass

    copy = original.with_options(task_runner=OtherRunner)
    assert type(copy.task_runner) is OtherRunner
    assert original.task_runner is INLINE


def test_with_options_keeps_what_it_is_not_given() -> None:
    @flow(name="kept", task_runner=OtherRunner, timeout_seconds=3)
    def original() -> None:
        pass

    copy = original.with_options()
    assert (copy.name, type(copy.task_runner), copy.timeout_seconds) == ("kept", OtherRunner, 3)


def test_with_options_changes_the_timeout() -> None:
    @flow(task_runner=INLINE, timeout_seconds=3)
    def original() -> None:
        pass

    assert original.with_options(timeout_seconds=None).timeout_seconds is None


# -- timeouts -----------------------------------------------------------------------------------


def test_sync_flow_past_its_timeout_fails_timed_out() -> None:
    @flow(task_runner=INLINE, timeout_seconds=0.2)
    def slow() -> None:
        for _ in range(50):
            time.sleep(0.1)

    started = time.monotonic()
    state = slow(return_state=True)
    assert (state.type, state.name) == (StateType.FAILED, "TimedOut")
    assert state.message == "Flow run exceeded timeout of 0.2 second(s)"
    assert time.monotonic() - started < 3


def test_calling_a_timed_out_flow_raises_timeout_error() -> None:
    @flow(task_runner=INLINE, timeout_seconds=0.2)
    def slow() -> None:
        for _ in range(50):
            time.sleep(0.1)

    with pytest.raises(TimeoutError):
        slow()


def test_async_flow_past_its_timeout_fails_timed_out() -> None:
    @flow(task_runner=INLINE, timeout_seconds=0.2)
    async def slow() -> None:
        await asyncio.sleep(5)

    started = time.monotonic()
    state = asyncio.run(slow(return_state=True))
    assert (state.type, state.name) == (StateType.FAILED, "TimedOut")
    assert time.monotonic() - started < 3


def test_flow_within_its_timeout_returns_its_value() -> None:
    @flow(task_runner=INLINE, timeout_seconds=5)
    def quick() -> int:
        return add(1, 1)

    assert quick() == 2


def test_flow_raising_timeout_error_itself_is_not_timed_out() -> None:
    @flow(task_runner=INLINE, timeout_seconds=5)
    async def own_timeout() -> Any:
        raise TimeoutError("mine")

    state = asyncio.run(own_timeout(return_state=True))
    assert state.name == "Failed"


class UnstartableRunner(InlineTaskRunner):
    def _start(self) -> None:
        raise TaskRunnerError("the engine is unreachable")


def test_runner_that_fails_to_start_fails_the_flow_run_with_its_error() -> None:
    called = []

    @flow(task_runner=UnstartableRunner())
    def never_runs() -> None:
        called.append(True)

    state = never_runs(return_state=True)
    assert (state.type, called) == (StateType.FAILED, [])
    assert "the engine is unreachable" in state.message


def test_calling_a_flow_whose_runner_fails_to_start_raises_the_runner_error() -> None:
    @flow(task_runner=UnstartableRunner())
    def never_runs() -> None:
        pass

    with pytest.raises(TaskRunnerError, match="the engine is unreachable"):
        never_runs()


def test_async_flow_whose_runner_fails_to_start_raises_the_runner_error() -> None:
    @flow(task_runner=UnstartableRunner())
    async def never_runs() -> None:
        pass

    with pytest.raises(TaskRunnerError, match="the engine is unreachable"):
        asyncio.run(never_runs())
