"""A pool of daemon threads for dask's threaded scheduler.

`concurrent.futures.ThreadPoolExecutor` joins its threads when the interpreter exits, so a task
still running after Ctrl-C would hold the process open until it returned. These threads are
daemons: an interrupted flow's process exits at once, as it does on the other local runners.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from taskloom_local._worker_threads import WorkerThreads

_Work = tuple["Future[Any]", Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DaemonThreadPool(Executor):
    """At most `max_workers` daemon threads, started as work arrives, each running
    `initializer()` first."""

    def __init__(
        self, max_workers: int, name: str, initializer: Callable[[], None] | None = None
    ) -> None:
        self._max_workers = max_workers  # the name dask.threaded reads the pool's size from
        self._initializer = initializer
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = WorkerThreads(max_workers, name, self._work)
        self._closed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a pool that is shut down")
            self._queue.put((future, fn, args, kwargs))
            self._threads.work_queued()
        return future

    def _work(self) -> None:
        if self._initializer is not None:
            self._initializer()
        while True:
            work = self._queue.get()
            if work is None:
                return
            future, fn, args, kwargs = work
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # handed to whoever waits on the future
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            self._threads.back_to_queue()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            threads = list(self._threads.threads)
        if cancel_futures:
            while True:
                try:
                    work = self._queue.get_nowait()
                except queue.Empty:
                    break
                if work is not None:
                    work[0].cancel()
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                if thread is not threading.current_thread():
                    thread.join()
