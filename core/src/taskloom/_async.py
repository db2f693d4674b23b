"""Running coroutines from synchronous code, and synchronous code with a time limit."""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from contextvars import copy_context
from typing import Any

_local = threading.local()


class CallTimeout(TimeoutError):
    """`call_in_thread` ran out of time (as opposed to the function raising `TimeoutError`)."""


def run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run `coro` to completion from synchronous code and return its result.

    Each thread reuses one event loop (creating one per call costs more than most tasks); a
    thread that is already running a loop hands the coroutine to a helper thread instead.
    """
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        runner = getattr(_local, "runner", None)
        if runner is None:
            runner = _local.runner = asyncio.Runner()
        # The runner would otherwise run every coroutine in the context it was created in.
        return runner.run(coro, context=copy_context())
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
            runner = getattr(_local, "runner", None)
            if runner is not None:
                runner.close()

    thread = threading.Thread(target=target, daemon=True, name="taskloom-call")
    thread.start()
    thread.join(timeout)
    if not outcome:
        _interrupt(thread)
        raise CallTimeout
    ok, value = outcome[0]
    if ok:
        return value
    raise value


def _interrupt(thread: threading.Thread) -> None:
    import ctypes

    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(CallTimeout)
        )
