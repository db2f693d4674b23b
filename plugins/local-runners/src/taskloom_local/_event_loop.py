"""An event loop on a thread of its own, for async task runs submitted from sync code."""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from typing import Any


class EventLoopThread:
    """Runs coroutines submitted from any thread concurrently on one loop until stopped."""

    def __init__(self, name: str, initializer: Callable[[], None] | None = None) -> None:
        import asyncio

        self._loop = asyncio.new_event_loop()
        self._tasks: set[Any] = set()
        if initializer is not None:
            self._loop.call_soon(initializer)
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._loop.call_soon_threadsafe(self._start, coro)

    def _start(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = self._loop.create_task(coro)
        # The loop keeps only weak references to tasks.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel_all(self) -> None:
        """Cancel every coroutine still running; the loop's thread is a daemon and stays."""
        for task in list(self._tasks):
            self._loop.call_soon_threadsafe(task.cancel)

    def stop(self) -> None:
        """Let the running coroutines finish, then stop the loop and its thread."""
        import asyncio

        async def drain() -> None:
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

        asyncio.run_coroutine_threadsafe(drain(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
