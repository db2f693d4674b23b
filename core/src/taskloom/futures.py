"""Futures: handles to submitted task runs, and helpers to wait on many of them."""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from taskloom.states import Pending, Running, State

if TYPE_CHECKING:
    from taskloom._task_call import TaskCall

__all__ = ["FinishedFuture", "TaskloomFuture", "as_completed", "wait"]

Waiter = Callable[["TaskloomFuture", "float | None"], "State | None"]


class TaskloomFuture(abc.ABC):
    """A task run submitted to a task runner.

    Futures are plain synchronous objects: `result()` blocks the calling thread, in sync and
    async flows alike, and never needs an event loop. Each runner subclasses this with two
    methods, `_wait` and `done`; everything users call is here.
    """

    __slots__ = ("__weakref__", "_final", "_waiter", "call", "owner")

    def __init__(self, call: TaskCall) -> None:
        self.call = call
        self._final: State | None = None
        self._waiter: Waiter | None = None
        #: the flow run (or worker-side handle) that submitted this future; set by the engine
        self.owner: Any = None

    # -- what a runner implements -------------------------------------------------------------

    @abc.abstractmethod
    def _wait(self, timeout: float | None) -> State | None:
        """Block at most `timeout` seconds (forever for None) for the run's final state.

        Returns that state, or None when the run is not final in time. A runner whose results
        stay remote returns a state whose data loads on first use.
        """

    @abc.abstractmethod
    def done(self) -> bool:
        """Whether the run has reached a final state."""

    def add_done_callback(self, fn: Callable[[TaskloomFuture], Any]) -> None:
        """Call `fn(self)` once the run is final, from whichever thread notices first.

        Runners whose engine has callbacks override this; the fallback waits in a thread.
        """
        if self._final is not None or self.done():
            fn(self)
            return

        def watch() -> None:
            self._wait(None)
            fn(self)

        threading.Thread(target=watch, daemon=True, name="taskloom-future-watch").start()

    # -- the public surface ---------------------------------------------------------------------

    @property
    def task_run_name(self) -> str:
        return self.call.task_run_name

    @property
    def state(self) -> State:
        """The run's current state: final once it has finished, else `Pending` or `Running`."""
        if self._final is not None:
            return self._final
        if self.done():
            final = self.wait(0)
            if final is not None:
                return final
        return Running() if self.call.started else Pending()

    def wait(self, timeout: float | None = None) -> State | None:
        """Wait at most `timeout` seconds for the final state; None if it is not final by then."""
        final = self._final
        if final is not None:
            return final
        waiter = self._waiter
        final = self._wait(timeout) if waiter is None else waiter(self, timeout)
        if final is not None:
            self._final = final
        return final

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> Any:
        """The task's return value, waiting at most `timeout` seconds for it.

        For a run that did not complete, raises its exception (or returns it when
        `raise_on_failure` is false). A run still going after `timeout` raises `TimeoutError`.
        """
        final = self._final or self.wait(timeout)
        if final is None:
            raise TimeoutError(
                f"Task run {self.task_run_name!r} did not finish within {timeout} second(s)"
            )
        return final.result(raise_on_failure=raise_on_failure)

    def __await__(self) -> Any:
        # Lets an async flow write `await fut`; the wait happens off the event loop.
        return await_result(self).__await__()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.task_run_name!r}, state={self.state!r})"


async def await_result(future: TaskloomFuture) -> Any:
    """The future's result, waited for without blocking the event loop."""
    import asyncio

    if future._final is None and not future.done():
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def wake(_: TaskloomFuture) -> None:
            loop.call_soon_threadsafe(_resolve, done)

        future.add_done_callback(wake)
        await done
    return future.result()


def _resolve(done: Any) -> None:
    if not done.done():
        done.set_result(None)


def as_completed(
    futures: Iterable[TaskloomFuture], timeout: float | None = None
) -> Iterator[TaskloomFuture]:
    """Yield each future as its run finishes; `TimeoutError` if some are not done in time."""
    import queue

    pending = list(dict.fromkeys(futures))
    finished: queue.SimpleQueue[TaskloomFuture] = queue.SimpleQueue()
    for future in pending:
        future.add_done_callback(finished.put)
    deadline = None if timeout is None else time.monotonic() + timeout
    for _ in range(len(pending)):
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            future = finished.get(timeout=remaining)
        except queue.Empty:
            raise TimeoutError(
                f"{len(pending)} future(s) did not finish within {timeout} second(s)"
            ) from None
        future.wait()
        yield future


def wait(
    futures: Iterable[TaskloomFuture], timeout: float | None = None
) -> tuple[set[TaskloomFuture], set[TaskloomFuture]]:
    """Wait at most `timeout` seconds for the futures; return `(done, not_done)`."""
    futures = list(futures)
    deadline = None if timeout is None else time.monotonic() + timeout
    done: set[TaskloomFuture] = set()
    not_done: set[TaskloomFuture] = set()
    for future in futures:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        (done if future.wait(remaining) is not None else not_done).add(future)
    return done, not_done


class FinishedFuture(TaskloomFuture):
    """A future whose run already ended: what a runner returns when it ran the call inline."""

    __slots__ = ()

    def __init__(self, call: TaskCall, state: State) -> None:
        super().__init__(call)
        self._final = state

    def _wait(self, timeout: float | None) -> State | None:
        return self._final

    def done(self) -> bool:
        return True
