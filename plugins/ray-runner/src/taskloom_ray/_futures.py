"""Futures of Ray task runs: final states read from a tiny marker object, values left remote."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayTaskError

from taskloom.exceptions import TaskRunFailure
from taskloom.futures import TaskloomFuture
from taskloom.states import Completed, State
from taskloom.task_runners import TaskCall

_finishing = threading.Lock()


class RayFuture(TaskloomFuture):
    """A task run on Ray: its marker says how it ended; its value stays in Ray's object store.

    Waiting fetches only the marker, so a run's final state is known in the flow's process
    without its value coming along; the state's data is fetched on first use.
    """

    __slots__ = ("_in_worker", "_marker", "_state", "_upstream", "value_ref")

    def __init__(
        self,
        call: TaskCall,
        marker: Any,
        value: Any,
        upstream: Sequence[TaskloomFuture],
        in_worker: bool = False,
    ) -> None:
        super().__init__(call)
        #: submitted from inside a Ray task: waits there go through Ray (see `_block`)
        self._in_worker = in_worker
        self._marker = marker
        #: the run's value in Ray's object store: what a dependent task receives
        self.value_ref = value
        self._upstream = upstream
        self._state: State | None = None

    @property
    def marker_ref(self) -> Any:
        """The run's marker in Ray's object store: what a task that only waits for it receives."""
        return self._marker

    def _wait(self, timeout: float | None) -> State | None:
        state = self._state
        if state is not None:
            return state
        return self._learn(timeout, with_value=False)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> Any:
        if self._final is None and self._state is None and self._waiter is None:
            # The value is wanted anyway, and tells how the run ended too: fetch it at once.
            state = self._learn(timeout, with_value=True)
            if state is None:
                raise TimeoutError(
                    f"Task run {self.task_run_name!r} did not finish within {timeout} second(s)"
                )
            self._final = state
        return super().result(timeout, raise_on_failure)

    def _learn(self, timeout: float | None, with_value: bool) -> State | None:
        """Wait at most `timeout` seconds for the run's final state, fetching its value too
        when `with_value` (else the state loads it on first use)."""
        marker = self._marker
        # A run that did not complete left its error in both objects: either tells how it ended.
        ref = self.value_ref if with_value else marker
        fetched: Any
        try:
            try:
                fetched = ray.get(ref, timeout=0)
            except GetTimeoutError:
                if timeout == 0 or not self._block(timeout):
                    return None
                # Both of a run's objects are ready once it returned.
                fetched = ray.get(ref) if with_value else None
        except TimeoutError:
            return None
        except Exception as exc:
            state = self._state_from_error(exc)
        else:
            state = State.completed(fetched) if with_value else Completed(loader=self._load)
        with _finishing:
            if self._state is not None:  # another thread learnt it meanwhile
                return self._state
            self._state = state
            self._upstream = ()
        # The worker did not log how the run finished (see `_remote.WorkerCall`).
        return self.call.finish(state)

    def _block(self, timeout: float | None) -> bool:
        """Wait at most `timeout` seconds until the run has returned; False if it has not."""
        if self._in_worker:
            # Inside a Ray task, waiting through Ray lets Ray lend this task's CPU to others
            # meanwhile: tasks waiting for the tasks they submitted cannot hold every CPU.
            ready, _ = ray.wait([self._marker], timeout=timeout, fetch_local=False)
            return bool(ready)
        # In the flow's process, block in Python, not inside Ray: Ray turns the exception of a
        # signal handler that fires during `ray.get` into one of its own, and the flow's Ctrl-C
        # and SIGTERM handlers raise exceptions the engine needs to see as raised. (On the
        # marker: the future of an object fetches its value.)
        self._marker.future().result(timeout)
        return True

    def done(self) -> bool:
        if self._state is not None:
            return True
        ready, _ = ray.wait([self._marker], timeout=0, fetch_local=False)
        return bool(ready)

    def add_done_callback(self, fn: Callable[[TaskloomFuture], Any]) -> None:
        if self._state is not None:
            fn(self)
            return
        self._marker.future().add_done_callback(lambda _: fn(self))

    def _load(self) -> Any:
        return ray.get(self.value_ref)

    def _state_from_error(self, exc: Exception) -> State:
        call = self.call
        # Ray reports an error nobody fetched when its object is freed: fetch both objects'.
        for ref in (self._marker, self.value_ref):
            with contextlib.suppress(Exception):
                ray.get(ref)
        cause = exc.cause if isinstance(exc, RayTaskError) and exc.cause is not None else exc
        if isinstance(cause, TaskRunFailure) and cause.task_run_name != call.task_run_name:
            # Ray hands down the first failure of a chain: name the upstream run of this one
            # that did not complete, as every runner does.
            return call.not_ready(_first_incomplete(self._upstream) or cause.task_run_name)
        return call.state_from_error(cause)


def _first_incomplete(upstream: Sequence[TaskloomFuture]) -> str | None:
    for future in upstream:
        if isinstance(future, RayFuture) and future._state is None:
            # Only whether it completed matters here; its own state is worked out when it is
            # waited for (doing that here would recurse along a long chain of failures).
            try:
                ray.get(future._marker)
            except Exception:
                return future.task_run_name
        else:
            state = future.wait()
            if state is not None and not state.is_completed():
                return future.task_run_name
    return None
