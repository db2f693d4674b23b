"""The future of a task run on a Dask cluster, and how its final state is read from Dask."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import CancelledError
from typing import TYPE_CHECKING, Any

from distributed import Future

from taskloom.exceptions import TaskRunFailure
from taskloom.futures import TaskloomFuture
from taskloom.states import Completed, Crashed, State
from taskloom.task_runners import logger
from taskloom_dask._worker import blocking_in_worker

if TYPE_CHECKING:
    from taskloom.task_runners import TaskCall

_FINAL_WITH_ERROR = ("error", "cancelled")

# Reading a failed run's error may submit it again: one thread at a time (a rare path).
_errors_lock = threading.RLock()


def dask_key(call: TaskCall) -> str:
    """The task run's name, made unique across the cluster: the dashboard reads like the flow."""
    return f"{call.task_run_name}-{uuid.uuid4().hex}"


#: How a future submits its call to Dask again (the runner's `_submit_to_dask`).
Resubmit = Callable[["TaskCall", Sequence[TaskloomFuture]], Future]  # type: ignore[type-arg]


class DaskFuture(TaskloomFuture):
    """A task run submitted to a Dask cluster.

    Its result stays on the worker that computed it until something needs it: a dependent task
    receives it worker to worker, and the flow's process loads it only for `result()`.

    A run whose worker died is given up by Dask with a `KilledWorker` error; it is submitted
    again while its task has retries left, and so are the dependents that were given up with it.
    """

    __slots__ = ("_crashes", "_dask", "_submit", "_upstream")

    # Reading one result of a map gathers its finished siblings in the same request.
    reads_in_batches = True

    def __init__(
        self,
        call: TaskCall,
        resubmit: Resubmit,
        dask_future: Future,  # type: ignore[type-arg]
        upstream: Sequence[TaskloomFuture],
    ) -> None:
        super().__init__(call)
        self._submit = resubmit
        self._dask = dask_future
        self._upstream = upstream
        self._crashes = 0

    @property
    def key(self) -> str:
        """The Dask key of the run's latest submission."""
        return str(self._dask.key)

    def done(self) -> bool:
        return self._final is not None or bool(self._dask.done())

    def add_done_callback(self, fn: Callable[[TaskloomFuture], Any]) -> None:
        if self._final is not None:
            fn(self)
            return
        # Dask calls it from its callback thread once the key is final (or at once if it is).
        self._dask.add_done_callback(lambda _: fn(self))

    def _wait(self, timeout: float | None) -> State | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            dask_future = self._dask
            if not dask_future.done():
                if timeout is not None and timeout <= 0:
                    return None
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not wait_for(dask_future, remaining):
                    return None
            status = dask_future.status
            if status == "finished":
                return self._completed(dask_future)
            if status not in _FINAL_WITH_ERROR:
                # Its data was lost while we looked and Dask computes it again; unless the
                # client is gone, in which case nothing will ever change.
                if dask_future.client.status in ("closing", "closed"):
                    return self._client_gone()
                continue
            with _errors_lock:
                if self._final is not None:  # another thread read it meanwhile
                    return self._final
                if self._dask is not dask_future:  # another thread submitted it again
                    continue
                state = self._state_after_error(dask_future)
            if state is not None:
                return state
            # submitted again: wait for the new submission

    @classmethod
    def _read_many(cls, futures: Iterable[TaskloomFuture]) -> None:
        ready: list[tuple[DaskFuture, State]] = []
        client = None
        for future in futures:
            assert isinstance(future, DaskFuture)
            state = future._final
            if state is None:
                if future._dask.status != "finished":
                    break  # the runs after it have mostly not finished either
                state = future.wait(0)
            if state is None or not state.is_completed() or state.is_loaded():
                continue
            if client is None:
                client = future._dask.client
            if future._dask.client is client:
                ready.append((future, state))
        if client is None or len(ready) < 2:
            return  # one reads its own
        try:
            with blocking_in_worker():
                values = client.gather([future._dask for future, _ in ready])
        except Exception:
            return  # each reads its own, and meets its own error
        for (_, state), value in zip(ready, values, strict=True):
            state.provide(value)

    # -- reading the outcome ----------------------------------------------------------------

    def _completed(self, dask_future: Future) -> State:  # type: ignore[type-arg]
        self._release_arguments()
        name = self.task_run_name

        def load() -> Any:
            try:
                return dask_future.result()
            except Exception as exc:
                raise RuntimeError(
                    f"The result of task run {name!r} could not be loaded from the Dask cluster "
                    f"(results are released when their flow run ends): {type(exc).__name__}: {exc}"
                ) from exc

        return Completed(loader=load)

    def _state_after_error(self, dask_future: Future) -> State | None:  # type: ignore[type-arg]
        """This run's state from the error Dask holds for it; None once it is submitted again."""
        call = self.call
        exc = error_of(dask_future)
        if isinstance(exc, TaskRunFailure):
            if exc.task_run_name == call.task_run_name:
                state = exc.state
            else:
                # Dask skipped this run for an upstream's failure (the worker never saw it) and
                # hands down the first failure of the chain: name the upstream run of this one
                # that did not complete, as every runner does.
                state = call.finish(
                    call.not_ready(_first_incomplete(self._upstream) or exc.task_run_name)
                )
            self._release_arguments()
            return state
        # An engine error (a worker died, a key was cancelled...): this run's, or an upstream's.
        for upstream in self._upstream:
            upstream_state = upstream.wait()
            assert upstream_state is not None
            if not upstream_state.is_completed():
                self._release_arguments()
                return call.finish(call.not_ready(upstream.task_run_name))
        killed = _is_killed_worker(exc)
        blamed = getattr(exc, "task", None) if killed else None
        if killed and blamed != dask_future.key:
            # An upstream's worker died. If that upstream completed when it ran again, so can
            # this run; if its result was lost for good, this run cannot get it.
            for upstream in self._upstream:
                if isinstance(upstream, DaskFuture) and upstream.key == blamed:
                    self._release_arguments()
                    return call.finish(call.not_ready(upstream.task_run_name))
            self._resubmit()
            return None
        if killed and self._crashes < call.task.retries:
            self._crashes += 1
            logger.info(
                "Task run %r crashed: its worker died; retry %d of %d...",
                call.task_run_name,
                self._crashes,
                call.task.retries,
            )
            self._resubmit()
            return None
        self._release_arguments()
        if isinstance(exc, CancelledError):
            # Only the runner cancels the keys it holds: its flow run was cancelled or timed out.
            return call.finish(call.cancelled_state(started=None))
        return call.finish(call.state_from_error(exc))

    def _client_gone(self) -> State:
        self._release_arguments()
        return self.call.finish(
            Crashed(
                f"Task run {self.task_run_name!r} crashed: the Dask client was closed before "
                "it finished"
            )
        )

    def _resubmit(self) -> None:
        self._dask = self._submit(self.call, self._upstream)

    def _release_arguments(self) -> None:
        # The worker has them; the flow's copy would otherwise live as long as the flow run.
        self.call.args = ()
        self.call.kwargs = {}
        self._upstream = ()


def _first_incomplete(upstream: Sequence[TaskloomFuture]) -> str | None:
    """The name of the first of `upstream` that did not complete."""
    for future in upstream:
        if isinstance(future, DaskFuture):
            # Only whether it completed matters: its own state is worked out when it is waited
            # for (doing that here would recurse along a long chain of failures).
            if future._final is None and future._dask.status != "finished":
                return future.task_run_name
            if future._final is not None and not future._final.is_completed():
                return future.task_run_name
            continue
        state = future.wait()
        if state is not None and not state.is_completed():
            return future.task_run_name
    return None


def wait_for(dask_future: Future, timeout: float | None) -> bool:  # type: ignore[type-arg]
    """Block until the key is final (True) or `timeout` passes (False), loading no data."""
    with blocking_in_worker():
        try:
            dask_future.exception(timeout=timeout)
        except TimeoutError:
            return False
        except CancelledError:
            pass  # its status says so
        except Exception:
            if dask_future.client.status not in ("closing", "closed"):
                raise
            # the caller sees the client gone
    return True


def error_of(dask_future: Future) -> BaseException:  # type: ignore[type-arg]
    if dask_future.status == "cancelled":
        return CancelledError(f"its Dask key {dask_future.key!r} was cancelled")
    exc = dask_future.exception()
    assert exc is not None
    return exc  # type: ignore[no-any-return]


def _is_killed_worker(exc: BaseException) -> bool:
    from distributed.scheduler import KilledWorker

    return isinstance(exc, KilledWorker)
