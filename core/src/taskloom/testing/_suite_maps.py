"""The runner test kit's tests of maps: the futures `map` returns, and batched maps."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskloom import TaskloomFutureList, flow, unmapped
from taskloom.states import StateType
from taskloom.task_runners import TaskRunner
from taskloom.testing import _tasks as t


class MapSuite:
    """Maps on the runner under test (mixed into `TaskRunnerStandardSuite`)."""

    def test_map_returns_a_future_list(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def maps() -> bool:
            futures = t.identity.map([1, 2])
            return isinstance(futures, TaskloomFutureList) and isinstance(futures, list)

        assert maps() is True

    def test_map_result_gives_every_value_in_order(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def maps() -> list[int]:
            return t.add.map(range(50), unmapped(1)).result()

        assert maps() == list(range(1, 51))

    def test_reading_a_map_in_a_loop_gives_every_value_in_order(
        self, task_runner: TaskRunner
    ) -> None:
        @flow(task_runner=task_runner)
        def maps() -> list[int]:
            futures = t.identity.map(range(300))
            futures.wait()
            return [f.result() for f in futures]

        assert maps() == list(range(300))

    def test_map_result_raises_a_failure_or_gives_it_when_asked(
        self, task_runner: TaskRunner
    ) -> None:
        @flow(task_runner=task_runner)
        def maps() -> list[int | Exception]:
            futures = t.fail_odd.map([0, 1, 2])
            with pytest.raises(ValueError, match="odd: 1"):
                futures.result()
            return futures.result(raise_on_failure=False)

        first, error, last = maps(return_state=True).result(raise_on_failure=False)
        assert (first, last) == (0, 2)
        assert isinstance(error, ValueError)

    def test_map_wait_times_out_without_raising(self, task_runner: TaskRunner) -> None:
        if not self.runs_concurrently:  # type: ignore[attr-defined]
            pytest.skip("the runner runs each task run at submission")

        @flow(task_runner=task_runner)
        def maps() -> bool:
            futures = t.interval.map([0.0, 1.5])
            futures.wait(0.1)
            waited = all(f.done() for f in futures)
            with pytest.raises(TimeoutError):
                futures.result(timeout=0.1)
            return waited

        assert maps() is False

    def test_map_futures_passed_whole_are_their_values(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def maps() -> int:
            return t.sum_all(t.identity.map([1, 2, 3]), {})  # type: ignore[arg-type]

        assert maps() == 6

    # -- batched maps ---------------------------------------------------------------------------

    def test_batched_map_gives_every_element_its_own_run(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def maps() -> tuple[list[int], int]:
            futures = t.add.map(range(25), unmapped(1), batch_size=4)
            return futures.result(), len({f.task_run_name for f in futures})

        assert maps() == (list(range(1, 26)), 25)

    def test_batched_map_failure_fails_only_its_element(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def maps() -> None:
            t.fail_odd.map(range(6), batch_size=3)

        state = maps(return_state=True)
        assert state.is_failed()
        assert state.message == "3/6 states failed."

    def test_batched_map_element_states_are_their_own(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def maps() -> list[StateType]:
            futures = t.fail_odd.map(range(6), batch_size=3)
            futures.wait()
            return [f.state.type for f in futures]

        completed, failed = StateType.COMPLETED, StateType.FAILED
        states = maps(return_state=True).result(raise_on_failure=False)
        assert states == [completed, failed] * 3

    def test_batched_map_retries_each_element(
        self, task_runner: TaskRunner, tmp_path: Path
    ) -> None:
        @flow(task_runner=task_runner)
        def maps() -> list[int]:
            return t.fail_first_attempt.map(unmapped(tmp_path), range(6), batch_size=3).result()

        assert maps() == list(range(6))

    def test_batched_map_times_out_each_element(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def maps() -> list[str]:
            futures = t.sleep_if_odd.map(range(4), batch_size=2)
            futures.wait()
            return [f.state.name for f in futures]

        names = maps(return_state=True).result(raise_on_failure=False)
        assert names == ["Completed", "TimedOut", "Completed", "TimedOut"]

    def test_batched_element_feeds_a_downstream_task(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def maps() -> list[int]:
            batched = t.identity.map(range(4), batch_size=2)
            return t.add.map(batched, unmapped(10)).result()

        assert maps() == [10, 11, 12, 13]

    def test_downstream_of_a_failed_batched_element_is_not_ready(
        self, task_runner: TaskRunner
    ) -> None:
        @flow(task_runner=task_runner)
        def maps() -> tuple[list[str], str | None]:
            batched = t.fail_odd.map(range(2), batch_size=2)
            downstream = t.identity.map(batched, batch_size=2)
            downstream.wait()
            return [f.state.name for f in downstream], downstream[1].state.message

        names, message = maps(return_state=True).result(raise_on_failure=False)
        assert names == ["Completed", "NotReady"]
        assert message is not None and "fail_odd" in message

    def test_auto_batch_size_gives_every_value(self, task_runner: TaskRunner) -> None:
        @flow(task_runner=task_runner)
        def maps() -> list[int]:
            return t.identity.map(range(200), batch_size="auto").result()

        assert maps() == list(range(200))
