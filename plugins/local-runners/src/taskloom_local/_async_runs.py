"""Async task runs of the concurrent runner: one anyio task group on a loop thread of its own."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any

from taskloom.task_runners import detached_context, logger

#: How long `stop` waits, after `cancel_all`, for cancelled runs to end. A run that catches its
#: cancellation and goes on would otherwise hold the flow's shutdown (and Ctrl-C) forever.
STOP_AFTER_CANCEL = 5.0


class AsyncRuns:
    """Runs coroutine functions concurrently in one anyio task group, on a thread of its own.

    The thread runs `anyio.run` on the flow run's backend (asyncio or trio). Runs start
    through anyio's `run_sync_soon` (on asyncio, the loop's own `call_soon_threadsafe`: a
    start touches no anyio API; the other calls here do, and need anyio's marker), which
    never blocks and works from any thread, the loop's own included (a run's done callback
    starts its dependents there). anyio's blocking
    portal does not fit: its `start_task_soon` blocks the caller for a round trip to the loop,
    refuses the loop's own thread, and a trio portal cannot be driven at all from a thread
    running trio (the flow's, when the flow runs under trio).

    On asyncio a run is a plain `asyncio` task rather than the group's: anyio's `start_soon`
    costs 36 us a run against 10 us for `create_task` (measured on this project's machines,
    20,000 trivial coroutines), which alone doubled the concurrent runner's per-task overhead
    for async tasks (benchmarks/bench_async.py). Those tasks are tracked here, cancelled by
    `cancel_all` and awaited before the group ends, so they behave as the group's would.
    """

    def __init__(self, backend: str, name: str, initializer: Callable[[], None]) -> None:
        ready: Future[tuple[Any, Any, Any]] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(backend, initializer, ready), name=name, daemon=True
        )
        self._thread.start()
        self._group, self._stop, token = ready.result()
        self._native: set[Any] | None = set() if backend == "asyncio" else None
        self._cancelled = False  # on the loop's thread
        self._cancel_requested = False  # on the caller's
        self._call_soon = token.backend_class.run_sync_soon
        self._token = token.native_token
        #: asyncio's loop, which takes runs directly: anyio's `run_sync_soon` copies the
        #: context and sets a variable in it on each call, 6 us of a 30 us trivial run
        self._loop: Any = token.native_token if backend == "asyncio" else None

    @classmethod
    def _run(
        cls, backend: str, initializer: Callable[[], None], ready: Future[tuple[Any, Any, Any]]
    ) -> None:
        import anyio

        try:
            anyio.run(cls._serve, initializer, ready, backend=backend)
        except BaseException as exc:  # handed to the starting thread
            if not ready.done():
                ready.set_exception(exc)

    @staticmethod
    async def _serve(initializer: Callable[[], None], ready: Future[tuple[Any, Any, Any]]) -> None:
        import anyio
        from anyio.lowlevel import current_token

        initializer()
        stop = anyio.Event()
        async with anyio.create_task_group() as group:
            ready.set_result((group, stop, current_token()))
            await stop.wait()
        # Leaving the group waited for every run still going.

    def start(self, run: Callable[[], Coroutine[Any, Any, Any]]) -> bool:
        """Start `run()` on the loop, from any thread; False if the loop has ended or
        `cancel_all` was called (the loop may be ending: nothing would end the run)."""
        if self._cancel_requested:
            return False
        if self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(self._start_on_loop, run)
            except RuntimeError:  # closed
                return False
            return True
        import anyio

        try:
            self._call_soon(self._start_on_loop, (run,), self._token)
        except anyio.RunFinishedError:
            return False
        return True

    def _start_on_loop(self, run: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        native = self._native
        if native is None:
            # After `cancel_all` the group's cancelled scope cancels the run at its first await.
            self._group.start_soon(run)
            return
        # Detached: the submitting thread's context may name another async library. Never the
        # group's `start_soon` here, not even after `cancel_all` (a start made just before it
        # gets here just after): this is a plain loop callback, without anyio's marker, where
        # anyio raises and the run would never start.
        task = self._loop.create_task(run(), context=detached_context())
        native.add(task)
        task.add_done_callback(native.discard)
        if self._cancelled:
            # Queued behind the task's first step, so the run starts and sees its cancellation
            # at its first await, as in the cancelled group (cancelled before that step, its
            # coroutine would never run, and nothing would end its future).
            self._loop.call_soon(task.cancel)

    def cancel_all(self) -> None:
        """Cancel every run going, and every run started from now on; do not wait."""
        self._cancel_requested = True
        self._soon(self._cancel_on_loop)

    def _cancel_on_loop(self) -> None:
        self._cancelled = True
        self._group.cancel_scope.cancel()
        for task in list(self._native or ()):
            task.cancel()

    def stop(self) -> None:
        """Let the runs going finish, then end the loop and its thread. After `cancel_all`, wait
        at most `STOP_AFTER_CANCEL` seconds and leave runs that ignore their cancellation to
        the (daemon) thread, saying so. Without it, as long as the runs take: like a
        sync run on a pool thread, a run nobody cancelled is waited for."""
        self._soon(self._begin_stop)
        self._thread.join(STOP_AFTER_CANCEL if self._cancel_requested else None)
        if self._thread.is_alive():
            logger.warning(
                "Async task runs had not ended %g second(s) after they were cancelled; "
                "leaving them on their loop thread",
                STOP_AFTER_CANCEL,
            )

    def _begin_stop(self) -> None:
        if self._native:
            self._group.start_soon(self._drain_then_stop)
        else:
            self._stop.set()

    async def _drain_then_stop(self) -> None:
        import asyncio

        import anyio

        # Shielded: after `cancel_all` the group's scope is cancelled, and this wait must still
        # see the (cancelled) runs end, or the loop would never stop.
        with anyio.CancelScope(shield=True):
            while self._native:
                await asyncio.wait(list(self._native))
        self._stop.set()

    def _soon(self, fn: Callable[[], Any]) -> None:
        import anyio

        with contextlib.suppress(anyio.RunFinishedError):
            self._call_soon(fn, (), self._token)
