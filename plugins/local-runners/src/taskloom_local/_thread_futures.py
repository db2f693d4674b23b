"""Futures of the concurrent runner's runs, and running runs in the thread that waits for them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from taskloom.futures import TaskloomFuture
from taskloom.states import Crashed, State
from taskloom.task_runners import is_async_cancellation, unstarted_upstream_first

if TYPE_CHECKING:
    from taskloom.task_runners import TaskCall, ThreadCalls

#: `worker.runner`: the runner whose pool thread (or event loop thread) this is.
worker = threading.local()


class ThreadRuns(Protocol):
    """What a future needs of its runner (`ConcurrentTaskRunner`)."""

    state_lock: threading.Lock
    unfinished: set[ThreadFuture]
    calls: ThreadCalls


class ThreadFuture(TaskloomFuture):
    """A task run of the concurrent runner.

    Lighter than `concurrent.futures.Future`: a pre-acquired lock is released once the state is
    set, and waiters acquire it. Whoever claims the run's ticket runs it: a pool thread, the
    event loop, a waiting worker (see `_wait`), or a cancellation that ends it unstarted.
    """

    __slots__ = ("_callbacks", "_finished", "_runner", "_state", "_ticket", "upstream")

    def __init__(
        self, call: TaskCall, runner: ThreadRuns, upstream: Sequence[TaskloomFuture]
    ) -> None:
        super().__init__(call)
        self._runner = runner
        self.upstream = upstream
        self._state: State | None = None
        self._callbacks: list[Callable[[TaskloomFuture], Any]] | None = None
        self._finished = threading.Lock()
        self._finished.acquire()
        self._ticket = [True]

    @property
    def unstarted(self) -> bool:
        """Whether nobody has taken the run yet."""
        return bool(self._ticket)

    def claim(self) -> bool:
        """Take the right to run (or cancel) this run; False if another thread has it."""
        try:
            self._ticket.pop()
        except IndexError:
            return False
        return True

    def execute(self) -> None:
        """Run the call in this thread (an async one to completion) unless already taken."""
        if not self.claim():
            return
        upstream, self.upstream = self.upstream, ()
        states = [future.wait() for future in upstream] if upstream else ()
        self.set_state(self._runner.calls.run(self.call, states))  # type: ignore[arg-type]

    async def execute_async(self) -> None:
        """Run an async call on the runner's event loop unless already taken."""
        if not self.claim():
            return
        upstream, self.upstream = self.upstream, ()
        states = [future.wait() for future in upstream]  # all final: nothing blocks
        try:
            state = await self.call.run_async(states)  # type: ignore[arg-type]
        except BaseException as exc:
            if is_async_cancellation(exc):  # the runner cancelled its async runs
                self.set_state(self.call.cancelled(started=True))
                raise  # the task group's cancel scope takes it
            # The engine lets only flow interrupts through.
            state = Crashed(f"Task run interrupted by {type(exc).__name__}", data=exc)
        self.set_state(state)

    def cancel_unstarted(self) -> None:
        """End the run `Cancelled` unless it has started."""
        if self.claim():
            self.set_state(self.call.cancelled(started=False))

    def set_state(self, state: State) -> None:
        """Make `state` final (the first state set wins), wake waiters, run callbacks."""
        runner = self._runner
        with runner.state_lock:
            if self._state is not None:
                return
            self._state = state
            callbacks, self._callbacks = self._callbacks, None
        runner.unfinished.discard(self)
        self._finished.release()
        for callback in callbacks or ():
            callback(self)

    def _wait(self, timeout: float | None) -> State | None:
        if self._state is None:
            if timeout is None and self._ticket and getattr(worker, "runner", None) is self._runner:
                run_here(self)
            if self._state is None:
                if not self._finished.acquire(timeout=-1 if timeout is None else timeout):
                    return None
                self._finished.release()
        return self._state

    def done(self) -> bool:
        return self._state is not None

    def add_done_callback(self, fn: Callable[[TaskloomFuture], Any]) -> None:
        with self._runner.state_lock:
            if self._state is None:
                if self._callbacks is None:
                    self._callbacks = []
                self._callbacks.append(fn)
                return
        fn(self)


def run_here(future: ThreadFuture) -> None:
    """Run `future` and every not-yet-started run of its runner it depends on in this thread.

    For a worker that waits: its thread would otherwise sit idle while the runs it waits for
    queue behind it, and with every thread waiting so, nothing would run. What has started
    elsewhere is waited for; it holds a thread of its own and gets on.
    """
    runner = future._runner

    def unstarted(candidate: TaskloomFuture) -> bool:
        return (
            type(candidate) is ThreadFuture and candidate._runner is runner and candidate.unstarted
        )

    for pending in unstarted_upstream_first(future, unstarted, _upstream_of):
        pending.execute()


def _upstream_of(future: ThreadFuture) -> Sequence[TaskloomFuture]:
    return future.upstream
