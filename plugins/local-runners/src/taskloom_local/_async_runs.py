"""Async task runs of the concurrent runner: one anyio task group on a loop thread of its own."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any


class AsyncRuns:
    """Runs coroutine functions concurrently in one anyio task group, on a thread of its own.

    The thread runs `anyio.run` on the flow run's backend (asyncio or trio). Runs start
    through the loop's `run_sync_soon`, which never blocks and works from any thread, the
    loop's own included (a run's done callback starts its dependents there). anyio's blocking
    portal does not fit: its `start_task_soon` blocks the caller for a round trip to the loop,
    refuses the loop's own thread, and a trio portal cannot be driven at all from a thread
    running trio (the flow's, when the flow runs under trio).
    """

    def __init__(self, backend: str, name: str, initializer: Callable[[], None]) -> None:
        ready: Future[tuple[Any, Any, Any]] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(backend, initializer, ready), name=name, daemon=True
        )
        self._thread.start()
        self._group, self._stop, token = ready.result()
        self._call_soon = token.backend_class.run_sync_soon
        self._token = token.native_token

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
        """Start `run()` on the loop, from any thread; False if the loop has ended."""
        import anyio

        try:
            self._call_soon(self._group.start_soon, (run,), self._token)
        except anyio.RunFinishedError:
            return False
        return True

    def cancel_all(self) -> None:
        """Cancel every run going, and every run started from now on; do not wait."""
        self._soon(self._group.cancel_scope.cancel)

    def stop(self) -> None:
        """Let the runs going finish, then end the loop and its thread."""
        self._soon(self._stop.set)
        self._thread.join()

    def _soon(self, fn: Callable[[], Any]) -> None:
        import anyio

        with contextlib.suppress(anyio.RunFinishedError):
            self._call_soon(fn, (), self._token)
