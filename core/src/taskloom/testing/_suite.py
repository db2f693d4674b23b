"""The standard suite itself (see the package docstring)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from taskloom import flow, unmapped
from taskloom.exceptions import UpstreamTaskError
from taskloom.states import StateType
from taskloom.task_runners import TaskRunner
from taskloom.testing import _stress_tasks as st
from taskloom.testing import _tasks as t
from taskloom.testing._inline import InlineTaskRunner
from taskloom.testing._pool import PoolTaskRunner
from taskloom.testing._scenarios import SCENARIOS
from taskloom.testing._suite_async import AsyncSuite
from taskloom.testing._suite_maps import MapSuite


def _overlap(first: tuple[float, float], second: tuple[float, float]) -> bool:
    return first[0] < second[1] and second[0] < first[1]


class TaskRunnerStandardSuite(MapSuite, AsyncSuite):
    """Subclass naming the runner in `runner`, or with a `task_runner` fixture returning an
    unstarted runner."""

    #: The runner under test as `python -m taskloom.testing.stress --runner` takes it: a
    #: `task_runner=` string or `module:function`. Needed by the Ctrl-C test, which runs the
    #: runner in a process of its own; enough alone, without a `task_runner` fixture.
    runner: str | None = None
    #: False for runners that run one task run at a time, in submission order.
    runs_concurrently: bool = True
    #: How many times each stress scenario runs here (the stress harness runs them thousands
    #: of times, in fresh processes).
    stress_runs: int = 2

    @pytest.fixture
    def task_runner(self) -> TaskRunner:
        if self.runner is None:
            raise NotImplementedError(
                "a runner's test class names its runner in `runner` or provides the "
                "task_runner fixture"
            )
        from taskloom.testing.stress import load_runner

        return load_runner(self.runner)

    # -- results ------------------------------------------------------------------------------

    def test_calling_a_task_returns_its_result(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def calls() -> int:
            return t.add(1, 2)

        assert calls() == 3

    def test_submit_returns_a_future_of_the_result(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def submits() -> tuple[int, str, bool]:
            future = t.add.submit(2, 3)
            return future.result(), future.state.name, future.state.is_completed()

        assert submits() == (5, "Completed", True)

    def test_future_arguments_are_resolved_to_results(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def chains() -> int:
            first = t.add.submit(1, 1)
            second = t.add.submit(first, 10)
            return t.add.submit(second, first).result()

        assert chains() == 14

    def test_futures_inside_collections_are_resolved(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def nested() -> int:
            a, b = t.identity.submit(1), t.identity.submit(2)
            return t.sum_all.submit([a, b, 3], {"c": t.identity.submit(4)}).result()

        assert nested() == 10

    def test_map_returns_one_future_per_element(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def maps() -> list[int]:
            return [f.result() for f in t.add.map([1, 2, 3], unmapped(10))]

        assert maps() == [11, 12, 13]

    def test_map_accepts_futures_as_elements(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def maps_futures() -> list[int]:
            upstream = t.identity.map([1, 2])
            return [f.result() for f in t.add.map(upstream, [10, 20])]

        assert maps_futures() == [11, 22]

    def test_async_task_returns_its_result(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def sync_flow() -> int:
            return t.async_add.submit(2, 2).result()

        assert sync_flow() == 4

    def test_async_flow_awaits_async_tasks(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        async def async_flow() -> tuple[int, int]:
            awaited = await t.async_add(1, 1)
            submitted = t.async_add.submit(awaited, 1)
            return awaited, submitted.result()

        import asyncio

        assert asyncio.run(async_flow()) == (2, 3)

    def test_task_can_submit_tasks_from_inside_its_run(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def nests() -> int:
            return t.submit_nested(4)

        assert nests() == 50

    # -- failures -----------------------------------------------------------------------------

    def test_task_state_handlers_run_where_the_task_runs_and_may_replace_its_state(
        self, task_runner: TaskRunner
    ) -> None:
        @flow(task_runner=task_runner)
        def handling() -> Any:
            return t.handled.submit(1).result()

        assert handling() == ("handled", 1)

    def test_context_names_the_task_run_and_its_map_index(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def context_flow() -> list[dict[str, Any]]:
            return [f.result() for f in t.run_context.map(["a", "b"])]

        first, second = context_flow()
        assert (first["map_index"], second["map_index"]) == (0, 1)
        assert first["task_name"] == "run_context"
        assert first["task_run_name"].startswith("run_context-")
        assert first["flow_name"] == "context-flow"
        assert first["flow_run_id"] == second["flow_run_id"] != ""

    def test_failed_task_raises_its_exception(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def fails() -> None:
            t.fail("bad input")

        with pytest.raises(ValueError, match="bad input"):
            fails()

    def test_failed_future_returns_exception_when_asked(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def fails_softly() -> Any:
            future = t.fail.submit("soft")
            return future.result(raise_on_failure=False), future.state.type

        error, kind = fails_softly(return_state=True).result(raise_on_failure=False)
        assert isinstance(error, ValueError)
        assert kind is StateType.FAILED

    def test_one_failure_keeps_the_other_results(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def mixed() -> None:
            t.add.submit(1, 1)
            t.fail.submit()
            t.add.submit(2, 2)

        state = mixed(return_state=True)
        assert state.is_failed()
        assert state.message == "1/3 states failed."
        assert isinstance(state.result(raise_on_failure=False), ValueError)

    def test_downstream_of_a_failure_is_not_ready(self, task_runner: TaskRunner) -> None:
        seen: dict[str, Any] = {}

        @flow(task_runner=task_runner)
        def blocked() -> None:
            upstream = t.fail.submit()
            downstream = t.add.submit(upstream, 1)
            downstream.wait()
            seen.update(state=downstream.state, upstream=upstream.task_run_name)

        blocked(return_state=True)
        state = seen["state"]
        assert state.type is StateType.PENDING
        assert state.name == "NotReady"
        assert seen["upstream"] in (state.message or "")
        with pytest.raises(UpstreamTaskError):
            state.result()

    def test_wait_for_a_failure_makes_the_run_not_ready(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def waits() -> str:
            upstream = t.fail.submit()
            downstream = t.add.submit(1, 1, wait_for=[upstream])
            downstream.wait()
            return downstream.state.name

        assert waits(return_state=True).result(raise_on_failure=False) == "NotReady"

    def test_keyboard_interrupt_in_a_task_crashes_it(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def interrupted() -> StateType:
            future = t.interrupt.submit()
            future.wait()
            return future.state.type

        assert interrupted() is StateType.CRASHED

    def test_timed_out_task_fails_and_the_flow_moves_on(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def times_out() -> tuple[StateType, str, int]:
            slow = t.sleep_past_timeout.submit(5)
            slow.wait()
            return slow.state.type, slow.state.name, t.add(1, 1)

        assert times_out() == (StateType.FAILED, "TimedOut", 2)

    def test_retries_rerun_a_failed_task(self, task_runner: TaskRunner, tmp_path: Path) -> None:
        @flow(task_runner=task_runner)
        def retries() -> int:
            return t.fail_until_third_attempt(tmp_path / "attempts")

        assert retries() == 3

    # -- ordering -----------------------------------------------------------------------------

    def test_wait_for_orders_runs_without_passing_data(
        self, task_runner: TaskRunner, tmp_path: Path
    ) -> None:
        marker = tmp_path / "marker"

        @flow(task_runner=task_runner)
        def ordered() -> str:
            writer = t.write_after.submit(marker, 0.3)
            return t.read.submit(marker, wait_for=[writer]).result()

        assert ordered() == "written"

    def test_sync_runs_overlap_only_on_concurrent_runners(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def two() -> list[tuple[float, float]]:
            return [f.result() for f in t.interval.map([0.5, 0.5])]

        first, second = two()
        assert _overlap(first, second) is self.runs_concurrently

    def test_async_runs_overlap_only_on_concurrent_runners(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def two() -> list[tuple[float, float]]:
            return [f.result() for f in t.async_interval.map([0.5, 0.5])]

        first, second = two()
        assert _overlap(first, second) is self.runs_concurrently

    # -- runs across runners -------------------------------------------------------------

    def test_a_run_taking_another_runners_run_is_submitted_without_holding_the_flow(
        self, task_runner: TaskRunner, tmp_path: Path
    ) -> None:
        if task_runner.runs_at_submission:
            pytest.skip("the runner runs each call at submission: its flow waits there")
        gate = tmp_path / "gate"
        elsewhere = st.inc.with_options(task_runner=PoolTaskRunner(2))

        @flow(task_runner=task_runner)
        def across() -> int:
            first = st.once_there.submit(str(gate), 1)
            middle = elsewhere.submit(first)
            last = st.inc.submit(middle)
            gate.touch()  # reached only if the submissions above did not wait for `first`
            return last.result()  # type: ignore[no-any-return]

        assert across() == 3

    # -- subflows ---------------------------------------------------------------------------

    def test_subflow_runs_on_its_own_runner(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def child(x: int) -> int:
            return t.add(x, 1)

        @flow(task_runner=InlineTaskRunner())
        def parent() -> int:
            return child(t.add(1, 1))

        assert parent() == 3

    def test_failed_subflow_counts_toward_the_parent(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def failing_child() -> None:
            t.fail.submit()

        @flow(task_runner=task_runner)
        def parent() -> None:
            t.add.submit(1, 1)
            failing_child(return_state=True)

        state = parent(return_state=True)
        assert state.is_failed()
        assert state.message == "1/2 states failed."

    # -- stress scenarios ---------------------------------------------------------------------

    @pytest.mark.parametrize("scenario", list(SCENARIOS))
    def test_stress_scenario_runs_right(
        self, task_runner: TaskRunner, scenario: str, tmp_path: Path
    ) -> None:
        for attempt in range(self.stress_runs):
            workdir = tmp_path / str(attempt)
            workdir.mkdir()
            SCENARIOS[scenario](task_runner, workdir)

    @pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
    def test_a_signal_in_the_middle_of_a_map_cancels_the_flow_quietly(
        self, signal_name: str
    ) -> None:
        if self.runner is None:
            pytest.skip("the runner is not named in `runner`: it cannot run in another process")
        import signal

        from taskloom.testing.stress import ctrl_c_run

        outcome = ctrl_c_run(self.runner, getattr(signal, signal_name), timeout=60)
        assert outcome["ok"], outcome["error"]

    # -- the runner object ------------------------------------------------------------------

    def test_start_and_shutdown_are_idempotent(self, task_runner: TaskRunner) -> None:
        runner = task_runner.duplicate()
        runner.start()
        runner.start()
        assert runner.started
        runner.shutdown()
        runner.shutdown()
        assert not runner.started

    def test_a_started_runner_pickles(self, task_runner: TaskRunner) -> None:
        cloudpickle = pytest.importorskip("cloudpickle")
        with task_runner.duplicate() as runner:
            for dumps in (pickle.dumps, cloudpickle.dumps):
                assert isinstance(pickle.loads(dumps(runner)), TaskRunner)

    @pytest.mark.parametrize("dumps_name", ["pickle", "cloudpickle"])
    def test_an_unstarted_runner_unpickles_as_its_own_class_with_its_options(
        self, task_runner: TaskRunner, dumps_name: str
    ) -> None:
        dumps = pytest.importorskip(dumps_name).dumps
        copy = pickle.loads(dumps(task_runner))
        assert type(copy) is type(task_runner)
        assert copy.options == task_runner.options
        assert not copy.started

    @pytest.mark.parametrize("dumps_name", ["pickle", "cloudpickle"])
    def test_a_started_runner_unpickles_as_its_own_class_with_its_options(
        self, task_runner: TaskRunner, dumps_name: str
    ) -> None:
        dumps = pytest.importorskip(dumps_name).dumps
        with task_runner.duplicate() as runner:
            copy = pickle.loads(dumps(runner))
        assert type(copy) is type(task_runner)
        assert copy.options == task_runner.options

    def test_runners_of_one_class_and_equal_options_are_equal_and_hash_alike(
        self, task_runner: TaskRunner
    ) -> None:
        twin = type(task_runner)(**task_runner.options)
        assert twin == task_runner
        assert hash(twin) == hash(task_runner)
        assert len({task_runner, twin, task_runner.duplicate()}) == 1

    def test_a_started_runner_still_equals_its_configuration(self, task_runner: TaskRunner) -> None:
        with task_runner.duplicate() as runner:
            assert runner == task_runner
            assert hash(runner) == hash(task_runner)

    def test_a_runner_differs_from_one_of_another_class_with_the_same_options(
        self, task_runner: TaskRunner
    ) -> None:
        subclass = type("OtherRunner", (type(task_runner),), {})
        other = subclass(**task_runner.options)
        assert task_runner != other
        assert other != task_runner

    def test_repr_shows_the_options_that_differ_from_the_defaults(
        self, task_runner: TaskRunner
    ) -> None:
        import inspect

        parameters = inspect.signature(type(task_runner)).parameters
        shown = repr(task_runner)
        assert shown.startswith(f"{task_runner.name}(")
        for name, value in task_runner.options.items():
            default = parameters[name].default if name in parameters else inspect.Parameter.empty
            if default is inspect.Parameter.empty or not (value == default or value is default):
                if default is None and value in ({}, [], ()):
                    continue  # an empty collection may stand for a None default
                assert f"{name}={value!r}" in shown

    def test_runner_is_usable_by_name_in_the_flow_log(
        self, task_runner: TaskRunner, caplog: pytest.LogCaptureFixture
    ) -> None:
        @flow(task_runner=task_runner)
        def logged() -> int:
            return t.add(1, 1)

        taskloom_logger = __import__("logging").getLogger("taskloom")
        taskloom_logger.addHandler(caplog.handler)
        try:
            logged()
        finally:
            taskloom_logger.removeHandler(caplog.handler)
        messages = [r.getMessage() for r in caplog.records]
        assert f"Starting task runner `{task_runner.name}`..." in messages
        assert f"Shutting down task runner `{task_runner.name}`..." in messages


__all__ = ["TaskRunnerStandardSuite"]
