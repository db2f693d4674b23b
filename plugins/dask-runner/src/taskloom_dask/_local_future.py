"""The future of a task run on one of dask's local schedulers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from taskloom.futures import TaskloomFuture
from taskloom.states import State

if TYPE_CHECKING:
    from taskloom.task_runners import TaskCall, ThreadCalls

#: The runner whose pool the current thread belongs to, if any.
pool_thread = threading.local()


class LocalRuns(Protocol):
    """What a future needs of its runner (`LocalDaskTaskRunner`)."""

    unfinished: set[LocalDaskFuture]
    calls: ThreadCalls

    def run_here(self, future: LocalDaskFuture) -> None: ...


class LocalDaskFuture(TaskloomFuture):
    """A task run of `LocalDaskTaskRunner`: set once by whoever ran it.

    A run waited for from one of the runner's own pool threads (a task waiting on the task runs
    it submitted) is run right there if it has not started yet, so waiting tasks can never hold
    every thread of the pool while the runs they wait for queue behind them.
    """

    __slots__ = ("_callbacks", "_finished", "_lock", "_runner", "_ticket", "key", "upstream")

    def __init__(
        self,
        call: TaskCall,
        runner: LocalRuns,
        upstream: Sequence[TaskloomFuture],
        key: str,
    ) -> None:
        super().__init__(call)
        self._runner = runner
        self.upstream = upstream
        self.key = key
        self._finished = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[TaskloomFuture], Any]] = []
        # Whoever pops the ticket runs the call: the scheduler, or a pool thread waiting for it.
        self._ticket = [True]

    @property
    def runner(self) -> LocalRuns:
        return self._runner

    def runs_on(self, runner: LocalRuns) -> bool:
        """Whether this is a run of `runner` that nobody has taken yet."""
        return self._runner is runner and bool(self._ticket)

    def take(self) -> bool:
        """Claim the right to run the call; False if someone else already has."""
        try:
            self._ticket.pop()
        except IndexError:
            return False
        return True

    def upstream_states(self) -> list[State]:
        states = []
        for future in self.upstream:
            state = future.wait()
            assert state is not None
            states.append(state)
        return states

    def set_state(self, state: State) -> None:
        """Make `state` final (the first state set wins), wake waiters, run callbacks."""
        with self._lock:
            if self._finished.is_set():
                return
            self._final = state
            self.upstream = ()
            self._finished.set()
            callbacks, self._callbacks = self._callbacks, []
        self._runner.unfinished.discard(self)
        for callback in callbacks:
            callback(self)

    def _wait(self, timeout: float | None) -> State | None:
        if (
            timeout is None
            and not self._finished.is_set()
            and getattr(pool_thread, "runner", None) is self._runner
        ):
            self._runner.run_here(self)
        if not self._finished.wait(timeout):
            return None
        return self._final

    def done(self) -> bool:
        return self._finished.is_set()

    def add_done_callback(self, fn: Callable[[TaskloomFuture], Any]) -> None:
        with self._lock:
            if not self._finished.is_set():
                self._callbacks.append(fn)
                return
        fn(self)
