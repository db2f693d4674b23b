"""A small runner that returns before its runs end, for the suite's runs across two runners."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from taskloom._toolkit.dependencies import when_final
from taskloom.futures import TaskloomFuture
from taskloom.states import State
from taskloom.task_runners import TaskCall, TaskRunner


class PoolTaskRunner(TaskRunner):
    """Runs each call on a `ThreadPoolExecutor` once its upstream runs are final.

    The smallest runner whose `submit` returns before the run ends (`InlineTaskRunner` runs it
    at submission): the kit's second runner where a scenario passes one runner's futures to
    tasks on another. Not for nested runs that wait: those could hold every thread.
    """

    def __init__(self, max_workers: int = 4) -> None:
        super().__init__()
        self.max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = True

    def _start(self) -> None:
        self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="taskloom-test-pool")
        self._closed = False

    def _cancel(self) -> None:
        with self._lock:
            self._closed = True

    def _shutdown(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        if self._closed:
            raise RuntimeError(f"{self.name} was used before it was started or after shutdown")
        future = PoolFuture(call)
        when_final(upstream, lambda: self._run_later(future, upstream))
        return future

    def _run_later(self, future: PoolFuture, upstream: Sequence[TaskloomFuture]) -> None:
        call = future.call
        with self._lock:
            if not self._closed and self._pool is not None:
                self._pool.submit(_run, call, upstream, future.outcome)
                return
        future.outcome.set_result(call.cancelled(started=False))


def _run(call: TaskCall, upstream: Sequence[TaskloomFuture], outcome: Future[State]) -> None:
    states = [future.wait() for future in upstream]
    try:
        if call.is_async:
            import asyncio

            state = asyncio.run(call.run_async(states))  # type: ignore[arg-type]
        else:
            state = call.run(states)  # type: ignore[arg-type]
    except BaseException as exc:  # never leave the future unset
        outcome.set_exception(exc)
        raise
    outcome.set_result(state)


class PoolFuture(TaskloomFuture):
    """A run of `PoolTaskRunner`: a stdlib future that gets the run's final state."""

    __slots__ = ("outcome",)

    def __init__(self, call: TaskCall) -> None:
        super().__init__(call)
        self.outcome: Future[State] = Future()

    def _wait(self, timeout: float | None) -> State | None:
        try:
            return self.outcome.result(timeout)
        except TimeoutError:
            return None

    def done(self) -> bool:
        return self.outcome.done()

    def add_done_callback(self, fn: Callable[[TaskloomFuture], Any]) -> None:
        self.outcome.add_done_callback(lambda _: fn(self))
