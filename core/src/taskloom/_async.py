"""Running coroutines from synchronous code, and synchronous code with a time limit."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Coroutine
from contextvars import copy_context
from typing import Any

from taskloom._threads import raise_in_thread

_local = threading.local()


class CallTimeout(TimeoutError):
    """`call_in_thread` ran out of time (as opposed to the function raising `TimeoutError`)."""


class _ThreadLoop:
    """A thread's own event loop, closed when the thread's locals go away.

    Threads that belong to someone else (a Dask worker's, a thread pool's) never tell us they
    end; closing the loop from the finaliser keeps their end free of unclosed-loop warnings.
    """

    __slots__ = ("loop",)

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        # Each coroutine runs in the caller's context, as a plain `await` would.
        task = self.loop.create_task(coro, context=copy_context())
        try:
            return self.loop.run_until_complete(task)
        except BaseException:
            # Interrupted (Ctrl-C, a timeout's asynchronous exception): a pending task would
            # otherwise resume inside the next coroutine this thread runs.
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    self.loop.run_until_complete(task)
            raise

    def close(self) -> None:
        if not self.loop.is_running() and not self.loop.is_closed():
            self.loop.close()

    def __del__(self, _finalizing: Callable[[], bool] = sys.is_finalizing) -> None:
        # At interpreter exit asyncio's modules may be torn down before the threads' locals;
        # the process's end frees the loop then.
        if not _finalizing():
            self.close()


def run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run `coro` to completion from synchronous code and return its result.

    Each thread reuses one event loop (creating one per call costs more than most tasks); a
    thread that is already running a loop hands the coroutine to a helper thread instead.
    """
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        loop = getattr(_local, "loop", None)
        if loop is None:
            loop = _local.loop = _ThreadLoop()
        return loop.run(coro)
    return call_in_thread(lambda: run_coroutine(coro))


def call_in_thread(fn: Callable[[], Any], timeout: float | None = None) -> Any:
    """Call `fn` in a new thread with this context and wait at most `timeout` seconds.

    Raises `CallTimeout` when the time runs out; the thread is then asked to stop by an
    asynchronous `CallTimeout` that fires at its next Python instruction.
    """
    outcome: list[Any] = []
    context = copy_context()

    def target() -> None:
        try:
            outcome.append((True, context.run(fn)))
        except BaseException as exc:  # handed back to the waiting thread
            outcome.append((False, exc))
        finally:
            # This thread ends here: close the event loop `run_coroutine` may have given it.
            loop = getattr(_local, "loop", None)
            if loop is not None:
                loop.close()

    thread = threading.Thread(target=target, daemon=True, name="taskloom-call")
    thread.start()
    thread.join(timeout)
    if not outcome:
        if thread.ident is not None:
            raise_in_thread(thread.ident, CallTimeout)
        raise CallTimeout
    ok, value = outcome[0]
    if ok:
        return value
    raise value
