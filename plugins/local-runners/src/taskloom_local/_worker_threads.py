"""Daemon threads for a work queue, started as work arrives, up to a limit."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable


class WorkerThreads:
    """Starts a daemon thread running `target` whenever work is queued and no started thread
    is free to take it, until `limit` threads run.

    A thread counts as free only once it has finished a piece of work and goes back to the
    queue (`back_to_queue`): a thread just started is not, as the work it was started for may
    still be waiting in the queue. Counting it free would leave a second piece of work queued
    behind the first on one thread.
    """

    def __init__(self, limit: int, name: str, target: Callable[[], None]) -> None:
        self.limit = limit
        self.threads: list[threading.Thread] = []
        self._name = name
        self._target = target
        # One entry per thread back at the queue that no queued work has claimed yet. A deque
        # because its append and pop are atomic: the common path takes no lock.
        self._free: deque[None] = deque()
        self._lock = threading.Lock()

    def work_queued(self) -> None:
        """Called after each piece of work is put in the queue."""
        if len(self.threads) >= self.limit:
            return
        try:
            self._free.pop()
        except IndexError:
            with self._lock:
                if len(self.threads) < self.limit:
                    thread = threading.Thread(
                        target=self._target, name=f"{self._name}-{len(self.threads)}", daemon=True
                    )
                    self.threads.append(thread)
                    thread.start()

    def back_to_queue(self) -> None:
        """Called by a thread after each piece of work, before it takes the next."""
        if len(self.threads) < self.limit:  # at the limit nobody reads the count: no growth
            self._free.append(None)

    def clear(self) -> None:
        """Forget the threads (they were told to stop)."""
        with self._lock:
            self.threads.clear()
            self._free.clear()
