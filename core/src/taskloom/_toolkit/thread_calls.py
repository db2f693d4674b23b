"""Task calls running on a runner's threads, so that a cancelled flow run can stop them."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from taskloom._async import cancel_thread_coroutine
from taskloom._threads import raise_in_thread
from taskloom.exceptions import TaskRunCancelled

if TYPE_CHECKING:
    from taskloom._task_call import TaskCall
    from taskloom.states import State


class ThreadCalls:
    """Runs task calls on the calling thread and can stop them all from another.

    A thread runner runs each call through `run(call, states)` instead of `call.run(states)`;
    its `_cancel` calls `stop()`, which raises `TaskRunCancelled` in every thread running a call
    at that moment (at its next Python instruction: code blocked in C stops once that call
    returns), so those runs end `Cancelled`. A call started after `stop()` does not run: it
    ends `Cancelled` at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # thread ident -> how many calls that thread is inside (a run may run another inline)
        self._running: dict[int, int] = {}
        self._stopped = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    def run(self, call: TaskCall, states: Sequence[State]) -> State:
        """`call.run(states)` in this thread, ending `Cancelled` if `stop()` reaches it."""
        ident = threading.get_ident()
        state: State | None = None
        try:
            with self._lock:
                stopped = self._stopped
                if not stopped:
                    self._running[ident] = self._running.get(ident, 0) + 1
            if stopped:
                return call.cancelled(started=False)
            try:
                state = call.run(states)
            finally:
                # Unregistered under the lock `stop()` raises under: once this thread is out of
                # the table, nothing is raised in it, and an exception raised before that lands
                # here at the latest, where it is caught below.
                with self._lock:
                    depth = self._running.pop(ident) - 1
                    if depth:
                        self._running[ident] = depth
        except TaskRunCancelled:
            pass
        if state is None:
            return call.cancelled(started=True)
        return state

    def stop(self) -> int:
        """Stop every call running now and every later one; how many threads were told."""
        with self._lock:
            self._stopped = True
            idents = list(self._running)
            for ident in idents:
                # An async run is cancelled through its loop; a sync one is interrupted.
                if not cancel_thread_coroutine(ident):
                    raise_in_thread(ident, TaskRunCancelled)
        return len(idents)
