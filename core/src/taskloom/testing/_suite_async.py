"""The standard suite's async part: flows and tasks under asyncio and under trio, on anyio."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from taskloom import flow
from taskloom.states import StateType
from taskloom.task_runners import TaskRunner
from taskloom.testing import _async_tasks as at
from taskloom.testing import _tasks as t

#: How long a test waits for a file a task writes in a `finally` block (in its own process).
_MARKER_WAIT = 15.0
#: How long the run that outlives its flow's timeout (1 s) would sleep if nothing stopped it.
_OUTLIVING_RUN = 6.0


def _wait_for(marker: Path) -> str:
    deadline = time.monotonic() + _MARKER_WAIT
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return marker.read_text() if marker.exists() else "never written"


class AsyncSuite:
    """Each test runs once under asyncio and once under trio (anyio's pytest plugin; the trio
    runs are skipped where trio is not installed)."""

    #: False for runners that run each task run inline (the sequential runner): an async
    #: flow's loop is blocked until the run returns, so the flow's own timeout cannot fire
    #: before that.
    runs_concurrently: bool = True

    @pytest.fixture(params=["asyncio", "trio"])
    def anyio_backend(self, request: pytest.FixtureRequest) -> str:
        if request.param == "trio":
            pytest.importorskip("trio")
        return str(request.param)

    @pytest.mark.anyio
    async def test_async_flow_runs_tasks_that_use_anyio(
        self, task_runner: TaskRunner, anyio_backend: str
    ) -> None:
        @flow(task_runner=task_runner)
        async def uses_anyio() -> tuple[int, int, int]:
            awaited = await at.anyio_work(1)
            submitted = at.anyio_work.submit(2)
            return awaited, submitted.result(), t.add(awaited, 1)

        assert await uses_anyio() == (4, 8, 5)

    @pytest.mark.anyio
    async def test_async_flow_maps_an_async_task(
        self, task_runner: TaskRunner, anyio_backend: str
    ) -> None:
        @flow(task_runner=task_runner)
        async def maps() -> list[int]:
            return [future.result() for future in at.anyio_work.map([1, 2, 3])]

        assert await maps() == [4, 8, 12]

    @pytest.mark.anyio
    async def test_async_subflow_runs_under_the_parents_backend(
        self, task_runner: TaskRunner, anyio_backend: str
    ) -> None:
        @flow(task_runner=task_runner)
        async def child(x: int) -> int:
            return await at.anyio_work(x)

        @flow(task_runner=task_runner)
        async def parent() -> int:
            return int(await child(3))

        assert await parent() == 12

    @pytest.mark.anyio
    async def test_async_task_past_its_timeout_is_cancelled_and_ends_timed_out(
        self, task_runner: TaskRunner, anyio_backend: str, tmp_path: Path
    ) -> None:
        marker = tmp_path / "finally"

        @flow(task_runner=task_runner)
        async def times_out() -> tuple[str, int]:
            state = at.async_sleep_past_timeout.submit(30, marker).wait()
            assert state is not None
            return state.name, await t.async_add(1, 1)

        started = time.monotonic()
        assert await times_out() == ("TimedOut", 2)
        assert time.monotonic() - started < 10
        assert _wait_for(marker) == "finally ran"

    @pytest.mark.anyio
    async def test_a_flow_timeout_cancels_its_running_async_task(
        self, task_runner: TaskRunner, anyio_backend: str, tmp_path: Path
    ) -> None:
        if not self.runs_concurrently:
            pytest.skip("an inline runner blocks the flow's loop until the run returns")
        marker = tmp_path / "finally"
        futures: list[Any] = []

        @flow(task_runner=task_runner, timeout_seconds=1)
        async def outlives() -> None:
            futures.append(at.async_sleep_then_mark.submit(_OUTLIVING_RUN, marker))
            import anyio

            await anyio.sleep(30)

        started = time.monotonic()
        state = await outlives(return_state=True)
        assert (state.type, state.name) == (StateType.FAILED, "TimedOut")
        assert futures[0].wait(10).type is StateType.CANCELLED
        if self.cancel_stops_running_runs:
            assert time.monotonic() - started < _OUTLIVING_RUN - 1
        assert _wait_for(marker) == self.cancelled_async_run_marker

    #: Whether cancelling a flow run stops its running runs rather than letting them finish
    #: (a Dask cluster in the flow's process, which cannot stop a running task, lets them).
    cancel_stops_running_runs = True
    #: What the cancelled run of `test_a_flow_timeout_cancels_its_running_async_task` leaves
    #: behind: "finally ran" where the run sees the cancellation (or finishes), "never
    #: written" where the runner stops the worker process it ran in first.
    cancelled_async_run_marker = "finally ran"

    def test_a_sync_task_past_its_timeout_is_stopped_at_its_next_python_instruction(
        self, task_runner: TaskRunner, tmp_path: Path
    ) -> None:
        marker = tmp_path / "steps"

        @flow(task_runner=task_runner)
        def times_out() -> str:
            state = at.sync_steps_past_timeout.submit(200, marker).wait()
            assert state is not None
            # A worker process the runner owns ends at shutdown, its threads with it: give
            # the stopped thread the moment it needs to run its `finally`.
            time.sleep(1)
            return state.name

        assert times_out() == "TimedOut"
        steps = _wait_for(marker)
        # 0.5 s is 10 steps of 0.05 s; all 200 would take 10 s.
        assert steps.isdigit() and int(steps) < 100, steps
