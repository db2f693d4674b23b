"""Futures of the runs of a batched map on Ray: many runs, one Ray task.

The Ray task returns every run's outcome in one object (`run_batch`); reading any run of the
batch fetches that object once, and each run's future takes its own entry. A run of a batch
passed to another task travels as the two objects of a small Ray task that picks its entry out
on a worker, made the first time it is needed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ray

from taskloom.futures import TaskloomFuture
from taskloom.task_runners import batch_outcome_state, replay_log_records
from taskloom_ray._futures import block, task_error
from taskloom_ray._remote import element_function

if TYPE_CHECKING:
    from taskloom.states import State
    from taskloom.task_runners import TaskCall


class RayBatch:
    """One Ray task running the calls of a batch, and their outcomes once fetched."""

    __slots__ = ("_future", "_lock", "_outcomes", "in_worker", "ref")

    def __init__(self, ref: Any, in_worker: bool) -> None:
        self.ref = ref
        self.in_worker = in_worker
        self._outcomes: list[Any] | BaseException | None = None
        self._lock = threading.Lock()
        self._future: Any = None

    def done(self) -> bool:
        if self._outcomes is not None:
            return True
        ready, _ = ray.wait([self.ref], timeout=0, fetch_local=False)
        return bool(ready)

    def future(self) -> Any:
        """The batch's object as a `concurrent.futures.Future` (made once: each costs a call
        into Ray)."""
        with self._lock:
            if self._future is None:
                self._future = self.ref.future()
            return self._future

    def block(self, timeout: float | None) -> bool:
        """Wait at most `timeout` seconds for the batch to return (see `RayFuture._block`)."""
        return self._outcomes is not None or block(self.ref, timeout, self.in_worker)

    def outcomes(self) -> list[Any] | BaseException:
        """Every call's outcome (the batch having returned), or the error that ended it.

        The first to read them prints the lines the batch's runs logged in the worker, which
        came back with the outcomes: before any of those runs' lines saying how they ended.
        """
        with self._lock:
            if self._outcomes is None:
                try:
                    self._outcomes, logged = ray.get(self.ref)
                except Exception as exc:
                    self._outcomes = task_error(exc)
                else:
                    replay_log_records(logged)
            return self._outcomes


class RayBatchFuture(TaskloomFuture):
    """One run of a batch on Ray."""

    __slots__ = ("_batch", "_index", "_refs")

    def __init__(self, call: TaskCall, batch: RayBatch, index: int) -> None:
        super().__init__(call)
        self._batch = batch
        self._index = index
        self._refs: tuple[Any, Any] | None = None

    def done(self) -> bool:
        return self._final is not None or self._batch.done()

    def add_done_callback(self, fn: Callable[[TaskloomFuture], Any]) -> None:
        if self._final is not None:
            fn(self)
            return
        self._batch.future().add_done_callback(lambda _: fn(self))

    def _wait(self, timeout: float | None) -> State | None:
        if timeout is not None and timeout <= 0:
            if not self._batch.done():
                return None
        elif not self._batch.block(timeout):
            return None
        outcomes = self._batch.outcomes()
        call = self.call
        if isinstance(outcomes, BaseException):
            return call.finish(call.state_from_error(outcomes))
        # Ray's workers leave the line saying how a run ended to the flow (see `_remote`).
        return call.log_final(batch_outcome_state(outcomes[self._index]))

    def refs(self) -> tuple[Any, Any]:
        """This run's marker and value as Ray objects, for a task that takes it."""
        if self._refs is None:
            marker, value = element_function().remote(self._batch.ref, self._index)
            self._refs = (marker, value)
        return self._refs
