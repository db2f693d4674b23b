"""Futures of the runs of a batched map on Dask: many runs, one Dask task.

The Dask task returns every run's outcome in one list (`run_batch`); reading any run of the
batch brings the whole list home in one request, and each run's future takes its own entry.
A run of a batch passed to another task travels as a small Dask task that picks its entry
out on the worker, made the first time it is needed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import distributed

from taskloom.exceptions import TaskRunFailure
from taskloom.futures import TaskloomFuture
from taskloom.states import State
from taskloom.task_runners import batch_outcome_state
from taskloom_dask._distributed_future import error_of, wait_for

if TYPE_CHECKING:
    from taskloom.task_runners import TaskCall


class DaskBatch:
    """One Dask task running the calls of a batch, and their outcomes once read."""

    __slots__ = ("_lock", "_outcomes", "dask")

    def __init__(self, dask_future: distributed.Future) -> None:  # type: ignore[type-arg]
        self.dask = dask_future
        self._outcomes: list[Any] | BaseException | None = None
        self._lock = threading.Lock()

    def outcomes(self) -> list[Any] | BaseException:
        """Every call's outcome (the task having finished), or the error that ended the task."""
        with self._lock:
            if self._outcomes is None:
                dask_future = self.dask
                try:
                    if dask_future.status == "finished":
                        self._outcomes = dask_future.result()
                    else:
                        self._outcomes = error_of(dask_future)
                except Exception as exc:  # the client closed meanwhile, say
                    self._outcomes = exc
            return self._outcomes


class DaskBatchFuture(TaskloomFuture):
    """One run of a batch on Dask."""

    __slots__ = ("_batch", "_element", "_index")

    def __init__(self, call: TaskCall, batch: DaskBatch, index: int) -> None:
        super().__init__(call)
        self._batch = batch
        self._index = index
        self._element: distributed.Future | None = None  # type: ignore[type-arg]

    def done(self) -> bool:
        return self._final is not None or self._batch.dask.done()

    def add_done_callback(self, fn: Callable[[TaskloomFuture], Any]) -> None:
        if self._final is not None:
            fn(self)
            return
        self._batch.dask.add_done_callback(lambda _: fn(self))

    def _wait(self, timeout: float | None) -> State | None:
        dask_future = self._batch.dask
        if not dask_future.done():
            if timeout is not None and timeout <= 0:
                return None
            if not wait_for(dask_future, timeout):
                return None
        outcomes = self._batch.outcomes()
        call = self.call
        if isinstance(outcomes, BaseException):
            return call.finish(call.state_from_error(outcomes))
        # The worker logged how the run ended.
        call.args = ()
        call.kwargs = {}
        return batch_outcome_state(outcomes[self._index])

    def as_dask_argument(self, client: distributed.Client) -> distributed.Future:  # type: ignore[type-arg]
        """A Dask future of this run's value, for a task that takes it."""
        if self._element is None:
            self._element = client.submit(
                element, self._batch.dask, self._index, key=f"{self.task_run_name}-element"
            )
        return self._element


def element(outcomes: list[Any], index: int) -> Any:
    """On a worker: one call's value out of its batch's outcomes; a call that did not complete
    raises its failure, so Dask skips the tasks that take it."""
    outcome = outcomes[index]
    if isinstance(outcome, TaskRunFailure):
        raise outcome
    return outcome
