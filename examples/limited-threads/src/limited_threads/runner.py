"""`LimitedThreadTaskRunner`: task runs on a thread pool of `max_workers` threads.

Written against the public runner toolkit alone (`taskloom.task_runners`), as a third party
would write it; docs/writing-a-runner.md walks through it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from taskloom.futures import TaskloomFuture
from taskloom.states import State
from taskloom.task_runners import (
    TaskCall,
    TaskRunner,
    ThreadCalls,
    unstarted_upstream_first,
    when_final,
)

#: `_pool_thread.runner`: the runner whose pool the current thread belongs to.
_pool_thread = threading.local()


class LimitedFuture(TaskloomFuture):
    """One task run of a `LimitedThreadTaskRunner`; whoever claims it first runs it."""

    def __init__(
        self, call: TaskCall, runner: LimitedThreadTaskRunner, upstream: Sequence[TaskloomFuture]
    ) -> None:
        super().__init__(call)
        self.runner = runner
        self.upstream = upstream
        self._state: Future[State] = Future()
        self._claimed = threading.Lock()

    def claim(self) -> bool:
        """Take the right to run (or cancel) this run; False if someone already has."""
        return self._claimed.acquire(blocking=False)

    @property
    def unstarted(self) -> bool:
        return not self._claimed.locked()

    def execute(self) -> None:
        """Run the call in this thread, unless someone else has taken it."""
        if self.claim():
            states = [future.wait() for future in self.upstream]
            self._finish(self.runner.calls.run(self.call, states))  # type: ignore[arg-type]

    def cancel_unstarted(self) -> None:
        if self.claim():
            self._finish(self.call.cancelled(started=False))

    def _finish(self, state: State) -> None:
        self.runner.forget(self)
        self._state.set_result(state)

    def _wait(self, timeout: float | None) -> State | None:
        in_pool = getattr(_pool_thread, "runner", None) is self.runner
        if timeout is None and in_pool and self.unstarted:
            # A task waiting in a pool thread for a run that has not started: run it (and what
            # it waits for) here, or waiting tasks could hold every thread while it queues.
            for run in unstarted_upstream_first(self, self._is_unstarted_sibling, _upstream):
                run.execute()
        try:
            return self._state.result(timeout)
        except TimeoutError:
            return None

    def _is_unstarted_sibling(self, future: TaskloomFuture) -> bool:
        return type(future) is LimitedFuture and future.runner is self.runner and future.unstarted

    def done(self) -> bool:
        return self._state.done()

    def add_done_callback(self, fn: Callable[[TaskloomFuture], Any]) -> None:
        self._state.add_done_callback(lambda _: fn(self))


def _upstream(future: LimitedFuture) -> Sequence[TaskloomFuture]:
    return future.upstream


class LimitedThreadTaskRunner(TaskRunner):
    """Runs task runs on threads, at most `max_workers` at once (async ones to completion in
    their thread), each once its upstream runs are final."""

    def __init__(self, max_workers: int = 4) -> None:
        super().__init__()
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise TypeError(f"max_workers must be a positive integer; got {max_workers!r}")
        self.max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = True
        self._unfinished: set[LimitedFuture] = set()
        self.calls = ThreadCalls()

    def duplicate(self) -> LimitedThreadTaskRunner:
        return type(self)(self.max_workers)

    def _start(self) -> None:
        self.calls = ThreadCalls()
        self._pool = ThreadPoolExecutor(
            self.max_workers, "limited-threads", initializer=self._mark_pool_thread
        )
        self._closed = False

    def _mark_pool_thread(self) -> None:
        _pool_thread.runner = self

    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        if self._closed:
            raise RuntimeError(f"{self.name} was used before it was started or after shutdown")
        future = LimitedFuture(call, self, upstream)
        with self._lock:
            self._unfinished.add(future)
        when_final(upstream, lambda: self._queue(future))
        return future

    def _queue(self, future: LimitedFuture) -> None:
        # Under the lock shutdown closes under: nothing reaches the pool once it is closing,
        # and a run whose upstream finishes after that ends Cancelled instead.
        with self._lock:
            if not self._closed:
                assert self._pool is not None
                self._pool.submit(future.execute)
                return
        future.cancel_unstarted()

    def forget(self, future: LimitedFuture) -> None:
        with self._lock:
            self._unfinished.discard(future)

    def _cancel(self) -> None:
        with self._lock:
            self._closed = True
            unfinished = list(self._unfinished)
        for future in unfinished:
            future.cancel_unstarted()
        self.calls.stop()

    def _shutdown(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def __reduce__(self) -> tuple[Any, ...]:
        # A pool does not pickle; a copy elsewhere gets the configuration, unstarted.
        return (type(self), (self.max_workers,))
