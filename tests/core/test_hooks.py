"""Hooks: plugins wrapping the runner steps, run notifications, and claiming runner strings."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from taskloom import flow, hookimpl, task
from taskloom._registry import resolve_task_runner
from taskloom.exceptions import UnknownTaskRunnerError
from taskloom.states import State
from taskloom.testing import InlineTaskRunner

INLINE = InlineTaskRunner()


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def fail() -> None:
    raise ValueError("boom")


class StepRecorder:
    """Wraps every runner step, recording what went in and what came out."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, Any]] = []

    @hookimpl(wrapper=True)
    def taskloom_runner_start(self, runner: Any) -> Generator[None, Any, Any]:
        self.steps.append(("start", runner.started))
        result = yield
        self.steps.append(("started", runner.started))
        return result

    @hookimpl(wrapper=True)
    def taskloom_runner_submit(
        self, runner: Any, call: Any, upstream: Any
    ) -> Generator[None, Any, Any]:
        self.steps.append(("submit", (call.task_run_name, len(upstream))))
        future = yield
        self.steps.append(("submitted", future.task_run_name))
        return future

    @hookimpl(wrapper=True)
    def taskloom_runner_submit_batch(self, runner: Any, calls: Any) -> Generator[None, Any, Any]:
        self.steps.append(("submit_batch", [call.task_run_name for call in calls]))
        futures = yield
        self.steps.append(("submitted_batch", len(futures)))
        return futures

    @hookimpl(wrapper=True)
    def taskloom_runner_wait(
        self, runner: Any, future: Any, timeout: Any
    ) -> Generator[None, Any, Any]:
        state = yield
        self.steps.append(("wait", (future.task_run_name, repr(state))))
        return state

    @hookimpl(wrapper=True)
    def taskloom_runner_shutdown(self, runner: Any) -> Generator[None, Any, Any]:
        result = yield
        self.steps.append(("shutdown", runner.started))
        return result


def test_wrapper_plugin_sees_every_runner_step_in_order(register_plugin, thread_runner) -> None:
    recorder = register_plugin(StepRecorder())

    @flow(task_runner=thread_runner)
    def one_task() -> int:
        return add.submit(1, 2).result()

    assert one_task() == 3
    names = [step for step, _ in recorder.steps]
    assert names == ["start", "started", "submit", "submitted", "wait", "shutdown"]


def test_wrapper_plugin_sees_each_batch_of_a_batched_map(register_plugin, thread_runner) -> None:
    recorder = register_plugin(StepRecorder())

    @flow(task_runner=thread_runner)
    def batched() -> list[int]:
        return add.map(range(5), 1, batch_size=2).result()

    assert batched() == [1, 2, 3, 4, 5]
    batches = [len(names) for step, names in recorder.steps if step == "submit_batch"]
    assert batches == [2, 2, 1]
    assert [value for step, value in recorder.steps if step == "submitted_batch"] == [2, 2, 1]


def test_wrapper_plugin_sees_the_step_arguments_and_results(register_plugin, thread_runner) -> None:
    recorder = register_plugin(StepRecorder())

    @flow(task_runner=thread_runner)
    def chained() -> int:
        first = add.submit(1, 2)
        return add.submit(first, 3).result()

    assert chained() == 6
    steps = dict(recorder.steps[:2])
    assert steps == {"start": False, "started": True}
    submits = [value for step, value in recorder.steps if step == "submit"]
    assert [upstream for _, upstream in submits] == [0, 1]
    assert ("shutdown", False) in recorder.steps
    waits = [value for step, value in recorder.steps if step == "wait"]
    assert waits
    assert all(state == "Completed(message=None, type=COMPLETED)" for _, state in waits)


def test_wrapper_plugin_is_told_about_a_waits_timeout(register_plugin, thread_runner) -> None:
    timeouts: list[Any] = []

    class Timeouts:
        @hookimpl(wrapper=True)
        def taskloom_runner_wait(self, runner, future, timeout):  # type: ignore[no-untyped-def]
            timeouts.append(timeout)
            return (yield)

    register_plugin(Timeouts())

    @flow(task_runner=thread_runner)
    def waits() -> None:
        add.submit(1, 1).wait(2.5)

    waits()
    assert timeouts[0] == 2.5


def test_wrapper_sees_shutdown_even_when_the_flow_fails(register_plugin) -> None:
    recorder = register_plugin(StepRecorder())

    @flow(task_runner=INLINE)
    def raises() -> None:
        raise RuntimeError("flow code failed")

    raises(return_state=True)
    assert [step for step, _ in recorder.steps][-1] == "shutdown"


# -- notifications ----------------------------------------------------------------------------


class Notifications:
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    @hookimpl
    def taskloom_flow_run_started(self, flow_run: Any) -> None:
        self.events.append(("flow started", flow_run, flow_run.task_runner.started))

    @hookimpl
    def taskloom_flow_run_finished(self, flow_run: Any, state: State) -> None:
        self.events.append(("flow finished", flow_run, state, flow_run.task_runner.started))

    @hookimpl
    def taskloom_task_run_submitted(self, flow_run: Any, call: Any) -> None:
        self.events.append(("task submitted", flow_run, call.task_run_name))

    @hookimpl
    def taskloom_task_run_finished(self, flow_run: Any, call: Any, state: State) -> None:
        self.events.append(("task finished", flow_run, call.task_run_name, state))


def test_flow_run_started_gets_the_flow_run_before_its_runner_starts(register_plugin) -> None:
    notes = register_plugin(Notifications())

    @flow(task_runner=INLINE)
    def my_flow() -> None:
        pass

    my_flow()
    kind, flow_run, runner_started = notes.events[0]
    assert kind == "flow started"
    assert flow_run.flow_name == "my-flow"
    assert type(flow_run.task_runner) is InlineTaskRunner
    assert flow_run.parent is None
    assert runner_started is False


def test_flow_run_finished_gets_the_final_state_after_shutdown(register_plugin) -> None:
    notes = register_plugin(Notifications())

    @flow(task_runner=INLINE)
    def my_flow() -> None:
        fail.submit()

    my_flow(return_state=True)
    kind, flow_run, state, runner_started = notes.events[-1]
    assert kind == "flow finished"
    assert flow_run is notes.events[0][1]
    assert repr(state) == "Failed(message='1/1 states failed.', type=FAILED)"
    assert runner_started is False


def test_subflow_run_notifications_name_the_parent(register_plugin) -> None:
    notes = register_plugin(Notifications())

    @flow(task_runner=INLINE)
    def child() -> None:
        pass

    @flow(task_runner=INLINE)
    def parent() -> None:
        child()

    parent()
    started = [event[1] for event in notes.events if event[0] == "flow started"]
    assert [run.flow_name for run in started] == ["parent", "child"]
    assert started[1].parent is started[0]


def test_task_run_submitted_fires_for_each_task_run(register_plugin, thread_runner) -> None:
    notes = register_plugin(Notifications())

    @flow(task_runner=thread_runner)
    def my_flow() -> list[str]:
        return [f.task_run_name for f in add.map([1, 2], [3, 4])]

    names = my_flow()
    submitted = [event for event in notes.events if event[0] == "task submitted"]
    assert [name for _, _, name in submitted] == names
    assert all(flow_run.flow_name == "my-flow" for _, flow_run, _ in submitted)


def test_task_run_finished_fires_with_each_final_state(register_plugin, thread_runner) -> None:
    notes = register_plugin(Notifications())

    @flow(task_runner=thread_runner)
    def my_flow() -> None:
        add.submit(1, 2)
        fail.submit()

    my_flow(return_state=True)
    finished = {event[2]: event[3] for event in notes.events if event[0] == "task finished"}
    assert sorted(state.type.value for state in finished.values()) == ["COMPLETED", "FAILED"]


def test_task_run_finished_fires_for_runs_finished_at_submission(register_plugin) -> None:
    notes = register_plugin(Notifications())

    @flow(task_runner=INLINE)
    def my_flow() -> str:
        return add.submit(1, 2).task_run_name

    name = my_flow()
    finished = [event for event in notes.events if event[0] == "task finished"]
    assert [(event[2], repr(event[3])) for event in finished] == [
        (name, "Completed(message=None, type=COMPLETED)")
    ]


def test_task_run_finished_fires_once_per_run(register_plugin, thread_runner) -> None:
    notes = register_plugin(Notifications())

    @flow(task_runner=thread_runner)
    def my_flow() -> None:
        future = add.submit(1, 2)
        future.result()
        future.wait()

    my_flow()
    assert len([event for event in notes.events if event[0] == "task finished"]) == 1


# -- claiming runner strings ------------------------------------------------------------------


class ClaimsInline:
    @hookimpl
    def taskloom_resolve_task_runner(self, spec: str) -> Any:
        if spec.startswith("inline://"):
            return InlineTaskRunner()
        return None


def test_resolve_hook_claims_a_string(register_plugin) -> None:
    register_plugin(ClaimsInline())
    assert type(resolve_task_runner("inline://127.0.0.1:1")) is InlineTaskRunner


def test_flow_accepts_a_string_claimed_by_a_plugin(register_plugin) -> None:
    register_plugin(ClaimsInline())

    @flow(task_runner="inline://127.0.0.1:1")
    def claimed() -> int:
        return add(1, 1)

    assert claimed() == 2


def test_string_no_plugin_claims_stays_unknown(register_plugin) -> None:
    register_plugin(ClaimsInline())
    with pytest.raises(UnknownTaskRunnerError, match="elsewhere://"):
        resolve_task_runner("elsewhere://127.0.0.1:1")


def test_registered_runner_names_win_over_plugins(register_plugin) -> None:
    class ClaimsEverything:
        @hookimpl
        def taskloom_resolve_task_runner(self, spec: str) -> Any:
            raise AssertionError(f"asked about {spec}")

    register_plugin(ClaimsEverything())
    assert type(resolve_task_runner("taskloom.testing:InlineTaskRunner")) is InlineTaskRunner
