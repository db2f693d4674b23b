"""The concurrent runner: sync task runs on worker threads, async ones on one anyio loop."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from taskloom.futures import TaskloomFuture
from taskloom.task_runners import TaskCall, TaskRunner, ThreadCalls, logger, when_final
from taskloom_local._async_runs import STOP_AFTER_CANCEL, AsyncRuns
from taskloom_local._thread_futures import ThreadFuture, worker

if TYPE_CHECKING:
    from typing import Self


class ConcurrentTaskRunner(TaskRunner):
    """Runs sync task runs on a pool of threads and async ones concurrently on an event loop.

    The default runner. `max_workers` caps the threads (default: the machine's cores plus four,
    at most 32); they are started as work arrives. Runs start in submission order once their
    upstream runs are final.

    Threads come from a `concurrent.futures.ThreadPoolExecutor`, each running a loop that takes
    runs from the runner's queue until it is empty. A task waiting for a run of this runner that
    has not started yet runs it (and what it waits for) in its own thread, so waiting tasks
    never hold every thread while the runs they wait for queue behind them.

    When a flow run is cancelled (Ctrl-C, SIGTERM), queued runs never start and running sync
    runs are stopped by a `TaskRunCancelled` raised in their threads (see `ThreadCalls`).
    """

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__()
        if max_workers is not None and (
            isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1
        ):
            raise TypeError(f"max_workers must be a positive integer or None; got {max_workers!r}")
        self.max_workers = max_workers or min(32, (os.cpu_count() or 1) + 4)
        self._pool: ThreadPoolExecutor | None = None
        # Guards the queue's consumers: how many loops take runs, and whether it is closed.
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[ThreadFuture] = queue.SimpleQueue()
        self._loops = 0
        self._closed = True
        # Guards each future's state and callbacks (one lock for all: futures are many).
        self.state_lock = threading.Lock()
        #: runs submitted and not final yet, for cancellation
        self.unfinished: set[ThreadFuture] = set()
        self.calls = ThreadCalls()
        self._async_runs: AsyncRuns | None = None

    def duplicate(self) -> Self:
        return type(self)(self.max_workers)

    # -- start and shutdown ------------------------------------------------------------------

    def _start(self) -> None:
        self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="taskloom-worker")
        self._closed = False
        self._loops = 0
        self.calls = ThreadCalls()

    def _cancel(self) -> None:
        with self._lock:
            self._closed = True
        for future in list(self.unfinished):
            if future.claim():
                future.set_state(future.call.cancelled(started=False))
        self.calls.stop()
        if self._async_runs is not None:
            self._async_runs.cancel_all()
            running = [future for future in self.unfinished if future.call.is_async]
            if running:
                # A run that catches its cancellation and goes on must not hold the flow, which
                # waits for its runs' states before it shuts the runner down.
                overdue = threading.Timer(STOP_AFTER_CANCEL, _end_overdue, (running,))
                overdue.daemon = True
                overdue.start()

    def _shutdown(self) -> None:
        # From here on nothing is queued (a run whose upstream finishes later is cancelled);
        # the loops finish what was queued before, and the pool joins them.
        with self._lock:
            self._closed = True
            pool = self._pool
        if pool is not None:
            pool.shutdown(wait=True)
            self._pool = None
        async_runs, self._async_runs = self._async_runs, None
        if async_runs is not None:
            async_runs.stop()
        self.unfinished.clear()

    # -- submitting ---------------------------------------------------------------------------

    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        if self._closed:
            raise RuntimeError(f"{self.name} was used before it was started or after shutdown")
        future = ThreadFuture(call, self, upstream)
        self.unfinished.add(future)
        if call.is_async:
            when_final(upstream, lambda: self._start_async(future))
        elif upstream:
            when_final(upstream, lambda: self.enqueue(future))
        else:
            self.enqueue(future)
        return future

    def enqueue(self, future: ThreadFuture) -> None:
        """Queue a sync run whose upstream runs are final; a loop takes it."""
        with self._lock:
            if not self._closed:
                self._queue.put(future)
                if self._loops < self.max_workers:
                    self._loops += 1
                    assert self._pool is not None
                    self._pool.submit(self._take_runs)
                return
        future.cancel_unstarted()

    def _mark_worker(self) -> None:
        worker.runner = self

    def _take_runs(self) -> None:
        """A pool thread's loop: run queued runs until the queue is empty."""
        worker.runner = self
        get = self._queue.get_nowait
        while True:
            try:
                future = get()
            except queue.Empty:
                with self._lock:
                    # Checked under the lock `enqueue` puts under: a run queued after this
                    # check finds one loop fewer and starts one.
                    if self._queue.empty():
                        self._loops -= 1
                        return
                continue
            future.execute()

    def _start_async(self, future: ThreadFuture) -> None:
        with self._lock:
            started = False
            if not self._closed:
                if self._async_runs is None:
                    # On the flow run's backend, so tasks may use that backend's own API.
                    self._async_runs = AsyncRuns(
                        future.call.flow_run.async_backend,
                        "taskloom-event-loop",
                        self._mark_worker,
                    )
                started = self._async_runs.start(future.execute_async)
        if not started:
            future.cancel_unstarted()

    def __reduce__(self) -> tuple[Any, ...]:
        # In another process (a task run handed on by a process-based runner), a started
        # runner's copy runs nested task runs on threads of its own.
        return (_unpickled, (self.max_workers, self._started))


def _end_overdue(cancelled: list[ThreadFuture]) -> None:
    """End `Cancelled` the cancelled async runs that have not ended `STOP_AFTER_CANCEL`
    seconds after their cancellation."""
    for future in cancelled:
        if not future.done():
            logger.warning(
                "Task run %r had not ended %g second(s) after it was cancelled; "
                "ending it Cancelled and leaving it on its loop thread",
                future.task_run_name,
                STOP_AFTER_CANCEL,
            )
            future.set_state(future.call.cancelled(started=True))


_copies: dict[int | None, ConcurrentTaskRunner] = {}


def _unpickled(max_workers: int, started: bool) -> ConcurrentTaskRunner:
    return _started_copy(max_workers) if started else ConcurrentTaskRunner(max_workers)


def _started_copy(max_workers: int | None) -> ConcurrentTaskRunner:
    """One started runner per process and size, shared by every call unpickled there."""
    runner = _copies.get(max_workers)
    if runner is None:
        runner = _copies.setdefault(max_workers, ConcurrentTaskRunner(max_workers))
        runner.start()
    return runner


__all__ = ["ConcurrentTaskRunner"]
