"""Async plumbing: which backend is running, coroutines from sync code, time limits.

anyio is the async layer (time limits are its cancel scopes, the concurrent runner's loop runs
under `anyio.run`, waits on futures under trio are its events), imported only once something
async runs: `import taskloom` stays cheap. Two things stay hand-written here, each for a reason
given where it is: the reused per-thread asyncio loop of `run_coroutine`, and
`call_in_thread`, which bounds a *synchronous* call in time.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextvars import Context, copy_context
from typing import Any

from taskloom._threads import raise_in_thread

_local = threading.local()
#: thread ident -> the coroutine `run_coroutine` runs in that thread now: its asyncio task, or
#: what cancels it
_cancellers: dict[int, Any] = {}


class CallTimeout(TimeoutError):
    """A call ran out of time (as opposed to the function raising `TimeoutError` itself)."""


def running_backend() -> str | None:
    """The async backend running an event loop in this thread ("asyncio" or "trio"), or None.

    Read without importing either: a backend that is not imported is not running.
    """
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and asyncio._get_running_loop() is not None:
        return "asyncio"
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_run():
        return "trio"
    return None


def is_async_cancellation(exc: BaseException) -> bool:
    """Whether `exc` is an event loop's cancellation (asyncio's or trio's)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and isinstance(exc, asyncio.CancelledError):
        return True
    trio = sys.modules.get("trio")
    return trio is not None and isinstance(exc, trio.Cancelled)


def detached_context() -> Context:
    """A copy of this context that names no async library.

    anyio (through sniffio) reads the running library from a context variable before it looks
    at the loop, and `anyio.run(..., backend="trio")` sets that variable to "trio". Copied
    into a thread that runs an asyncio loop (a runner's), it would make anyio take asyncio's
    loop for trio's ("must be called from async context"); copied into a thread that starts a
    loop of its own, `anyio.run` would refuse ("Already running trio in this thread").
    """
    context = copy_context()
    sniffio = sys.modules.get("sniffio")
    if sniffio is not None and context.get(sniffio.current_async_library_cvar) is not None:
        context.run(sniffio.current_async_library_cvar.set, None)
    return context


class _ThreadLoop:
    """A thread's own asyncio loop, reused by every coroutine the thread runs.

    Hand-written rather than `anyio.run` per call because a new loop per call costs more than
    most tasks: measured per trivial coroutine, 9 us on a reused loop against 108 us for
    `anyio.run` (asyncio), 112 us for `asyncio.run`, 181 us for a blocking portal's `call` and
    40 us for a reused `asyncio.Runner` (whose context handling the loop below does itself).

    Closed when the thread's locals go away: threads that belong to someone else (a Dask
    worker's, a thread pool's) never tell us they end, and closing the loop from the finaliser
    keeps their end free of unclosed-loop warnings.
    """

    __slots__ = ("loop",)

    def __init__(self) -> None:
        import asyncio

        self.loop = asyncio.new_event_loop()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        # Each coroutine runs in the caller's context, as a plain `await` would.
        task = self.loop.create_task(coro, context=detached_context())
        # The task itself is what `cancel_thread_coroutine` cancels: a closure and a context
        # manager per call cost 20% of a trivial coroutine's run (19.5 against 16.5 us).
        # No coroutine runs here already: a thread running a loop hands coroutines on.
        ident = threading.get_ident()
        _cancellers[ident] = task
        try:
            return self.loop.run_until_complete(task)
        except BaseException:
            # Interrupted (Ctrl-C, a timeout's asynchronous exception): the coroutine sees a
            # cancellation and runs its `finally` blocks here, and no pending task resumes
            # inside the next coroutine this thread runs.
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    self.loop.run_until_complete(task)
            raise
        finally:
            del _cancellers[ident]

    def close(self) -> None:
        if not self.loop.is_running() and not self.loop.is_closed():
            self.loop.close()

    def __del__(self, _finalizing: Callable[[], bool] = sys.is_finalizing) -> None:
        # At interpreter exit asyncio's modules may be torn down before the threads' locals;
        # the process's end frees the loop then.
        if not _finalizing():
            self.close()


@contextlib.contextmanager
def _cancellable(cancel: Callable[[], None]) -> Iterator[None]:
    """Register `cancel` as what `cancel_thread_coroutine` calls for this thread meanwhile (no
    coroutine runs here already: a thread running a loop hands coroutines on)."""
    ident = threading.get_ident()
    _cancellers[ident] = cancel
    try:
        yield
    finally:
        del _cancellers[ident]


def cancel_thread_coroutine(ident: int) -> bool:
    """Cancel the coroutine `run_coroutine` runs in thread `ident` now, from another thread.

    The coroutine sees its loop's cancellation at its next `await` (its `finally` blocks run)
    and `run_coroutine` raises it. An exception raised in the thread instead
    (`raise_in_thread`) would wait until the loop has something to do, which a loop sleeping
    on its selector may not have for long, and could land inside trio's own machinery. False
    if the thread runs no such coroutine.
    """
    cancel = _cancellers.get(ident)
    if cancel is None:
        return False
    with contextlib.suppress(RuntimeError, Exception):  # the loop has ended meanwhile
        if callable(cancel):
            cancel()
        else:  # an asyncio task (see `_ThreadLoop.run`)
            cancel.get_loop().call_soon_threadsafe(cancel.cancel)
    return True


def run_coroutine(coro: Coroutine[Any, Any, Any], backend: str = "asyncio") -> Any:
    """Run `coro` to completion from synchronous code on `backend` and return its result.

    On asyncio each thread reuses one loop (see `_ThreadLoop`); on trio each call is an
    `anyio.run`. A thread that is already running a loop (a sync call inside an async flow)
    hands the coroutine to a helper thread instead.
    """
    if running_backend() is not None:
        return call_in_thread(lambda: run_coroutine(coro, backend))
    if backend == "asyncio":
        loop = getattr(_local, "loop", None)
        if loop is None:
            loop = _local.loop = _ThreadLoop()
        return loop.run(coro)
    import anyio

    main = _cancellable_main(coro)
    return detached_context().run(lambda: anyio.run(main, backend=backend))


def _cancellable_main(coro: Coroutine[Any, Any, Any]) -> Callable[[], Coroutine[Any, Any, Any]]:
    """`coro` as a main function for `anyio.run` that `cancel_thread_coroutine` can cancel."""

    async def main() -> Any:
        import anyio
        from anyio.lowlevel import current_token

        token = current_token()
        with anyio.CancelScope() as scope:

            def cancel() -> None:
                token.backend_class.run_sync_soon(scope.cancel, (), token.native_token)

            with _cancellable(cancel):
                return await coro
        raise _cancelled_error()

    return main


def _cancelled_error() -> BaseException:
    """What a coroutine cancelled from another thread raises out of `run_coroutine`."""
    from taskloom.exceptions import TaskRunCancelled

    return TaskRunCancelled("the coroutine was cancelled")


async def with_time_limit(awaitable: Awaitable[Any], seconds: float | None) -> Any:
    """Await `awaitable` within `seconds`, in an anyio cancel scope.

    Past the limit the awaitable sees a cancellation (its `finally` blocks run) and
    `CallTimeout` is raised; a `TimeoutError` of its own passes through as itself, which
    `anyio.fail_after` could not tell apart.
    """
    if seconds is None:
        return await awaitable
    import anyio

    with anyio.move_on_after(seconds) as scope:
        return await awaitable
    if scope.cancelled_caught:
        raise CallTimeout
    raise RuntimeError("unreachable: the scope neither returned nor was cancelled")


def call_in_thread(fn: Callable[[], Any], timeout: float | None = None) -> Any:
    """Call `fn` in a new thread with this context and wait at most `timeout` seconds.

    Hand-written because no library stops a synchronous call: anyio's `to_thread` and
    `concurrent.futures` can only stop *waiting* for it. Raises `CallTimeout` when the time
    runs out; the thread is then asked to stop by an asynchronous `CallTimeout` that fires at
    its next Python instruction (a call blocked in C sees it when that call returns). An
    interruption of the waiting thread (Ctrl-C) is passed on to the called thread the same way
    (a coroutine running there sees a cancellation), then raised here.
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
    try:
        thread.join(timeout)
    except BaseException as exc:
        if not outcome and thread.ident is not None:
            raise_in_thread(thread.ident, type(exc))
        raise
    if not outcome:
        if thread.ident is not None:
            raise_in_thread(thread.ident, CallTimeout)
        raise CallTimeout
    ok, value = outcome[0]
    if ok:
        return value
    raise value
