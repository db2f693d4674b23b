"""Task runs that take another runner's runs: submitted to their own runner once those are final.

A runner's `submit` only takes futures of its own engine as upstream. A run whose arguments (or
`wait_for`) hold a future of another runner of the flow run (a task naming its own runner, a
parent flow's run) needs that run's value instead. Waiting for it where the run is submitted
would hold the flow's thread, and every submission after it, for as long as the other engine
takes; a `ChainedFuture` stands for the run instead, and submits it when the other runs are
final, from a thread of its own (the other engine's callback thread may be one that must not
block, or not submit). Runners that run each call at submission (`runs_at_submission`) are
the exception: there the flow's thread runs the call anyway, so it waits there, as it always
would.

Futures of the same runner as the run, but chained themselves, are upstream futures like any
other: the run goes to the runner once they have been submitted, with their runner's futures in
their place, so their values travel as the engine passes them.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from taskloom._toolkit.dependencies import countdown, when_final
from taskloom.futures import FinishedFuture, TaskloomFuture
from taskloom.states import Failed, State

if TYPE_CHECKING:
    from taskloom._submitter import Submitter
    from taskloom._task_call import TaskCall

#: Threads that submit chained runs. Submitting only hands a call to an engine (runners that
#: run calls at submission never chain), so a few serve every flow run of the process.
SUBMITTING_THREADS = 4

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _submitting_threads() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(
                    SUBMITTING_THREADS, thread_name_prefix="taskloom-chain"
                )
    return _executor


class Foreign:
    """Stands in a chained run's arguments for the value of its other runner's run at `index`
    (of `ChainedFuture`'s `foreign`), until that run is final."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class ChainedFuture(TaskloomFuture):
    """A run waiting for runs of other runners before it goes to its own (see the module)."""

    __slots__ = (
        "_callbacks",
        "_context",
        "_foreign",
        "_inner",
        "_lock",
        "_on_submitted",
        "_ready",
        "_submitter",
        "_submitting",
        "_upstream",
    )

    def __init__(
        self,
        call: TaskCall,
        submitter: Submitter,
        upstream: Sequence[TaskloomFuture],
        foreign: Sequence[TaskloomFuture],
    ) -> None:
        super().__init__(call)
        self._submitter = submitter
        self._upstream = upstream
        self._foreign = foreign
        #: the future the run's runner returned (or a finished one), once there is one
        self._inner: TaskloomFuture | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._submitting = False
        self._callbacks: list[Callable[[TaskloomFuture], Any]] | None = []
        self._on_submitted: list[Callable[[], None]] | None = []
        # Submitted in the context the call was made in, as a direct submission would be.
        self._context = contextvars.copy_context()

    # -- getting to the runner -------------------------------------------------------------

    def begin(self) -> None:
        """Submit the run once its other runners' runs are final and its own runner's chained
        upstream runs are submitted."""
        when_final(self._foreign, self._after_foreign)

    def _after_foreign(self) -> None:
        chained = [f for f in self._upstream if type(f) is ChainedFuture and f._inner is None]
        if not chained:
            self._hand_off()
            return
        one_submitted = countdown(len(chained), self._hand_off)
        for future in chained:
            future._when_submitted(one_submitted)

    def _when_submitted(self, fn: Callable[[], None]) -> None:
        with self._lock:
            waiting = self._on_submitted
            if waiting is not None:
                waiting.append(fn)
                return
        fn()

    def _hand_off(self) -> None:
        try:
            _submitting_threads().submit(self._context.run, self._submit)
        except RuntimeError:  # the interpreter is exiting: nothing submits any more
            self.cancel_unsubmitted()

    def _submit(self) -> None:
        with self._lock:
            if self._submitting:  # cancelled while it waited
                return
            self._submitting = True
        call = self.call
        try:
            inner = self._submitted()
        except BaseException as exc:
            if not self._submitter.runner.started:
                # Shut down before the other runs were final: its flow run was interrupted.
                self._settle(FinishedFuture(call, call.cancelled(started=False)))
                return
            state: State = Failed(
                f"Task run {call.task_run_name!r} could not be submitted to "
                f"{self._submitter.runner_label}: {type(exc).__name__}: {exc}",
                data=exc,
            )
            inner = FinishedFuture(call, call.finish(state))
        self._settle(inner)

    def _submitted(self) -> TaskloomFuture:
        call = self.call
        states = [future.wait() for future in self._foreign]  # all final: no wait
        for future, state in zip(self._foreign, states, strict=True):
            assert state is not None
            if not state.is_completed():
                return FinishedFuture(call, call.finish(call.not_ready(future.task_run_name)))
        from taskloom._task_call import _fill

        values: Any = _Values(states)
        call.args = _fill(call.args, values, Foreign)
        call.kwargs = _fill(call.kwargs, values, Foreign)
        upstream = chained_upstream(self._upstream)
        assert upstream is not None  # every chained upstream run was submitted first
        return self._submitter._submit(call, upstream)

    def cancel_unsubmitted(self) -> None:
        """End the run `Cancelled` if it has not gone to its runner yet; else leave it to the
        runner's own cancellation."""
        with self._lock:
            if self._submitting:  # gone to its runner, or going, or cancelled already
                return
            self._submitting = True
        self._settle(FinishedFuture(self.call, self.call.cancelled(started=False)))

    def _settle(self, inner: TaskloomFuture) -> None:
        with self._lock:
            self._inner = inner
            callbacks, self._callbacks = self._callbacks or [], None
            submitted, self._on_submitted = self._on_submitted or [], None
        self._ready.set()
        for fn in submitted:
            fn()
        for callback in callbacks:
            self._forward(inner, callback)

    def _forward(self, inner: TaskloomFuture, fn: Callable[[TaskloomFuture], Any]) -> None:
        inner.add_done_callback(lambda _: fn(self))

    # -- the future ---------------------------------------------------------------------------

    def _wait(self, timeout: float | None) -> State | None:
        if timeout is None:
            self._ready.wait()
            assert self._inner is not None
            return self._inner.wait()
        deadline = time.monotonic() + timeout
        if not self._ready.wait(timeout):
            return None
        assert self._inner is not None
        return self._inner.wait(max(0.0, deadline - time.monotonic()))

    def done(self) -> bool:
        inner = self._inner
        return inner is not None and inner.done()

    def add_done_callback(self, fn: Callable[[TaskloomFuture], Any]) -> None:
        with self._lock:
            waiting = self._callbacks
            if waiting is not None:
                waiting.append(fn)
                return
        assert self._inner is not None
        self._forward(self._inner, fn)


class _Values:
    """The values of a chained run's other runners' runs, read (loaded) only where used."""

    __slots__ = ("_states",)

    def __init__(self, states: list[State | None]) -> None:
        self._states = states

    def __getitem__(self, index: int) -> Any:
        state = self._states[index]
        assert state is not None
        return state.data


def chained_upstream(upstream: Sequence[TaskloomFuture]) -> list[TaskloomFuture] | None:
    """`upstream` with each chained future already submitted replaced by its runner's future,
    or None when one has not been submitted yet (the run must be chained itself)."""
    unwrapped = list(upstream)
    for index, future in enumerate(unwrapped):
        if type(future) is ChainedFuture:
            inner = future._inner
            if inner is None:
                return None
            unwrapped[index] = inner
    return unwrapped
