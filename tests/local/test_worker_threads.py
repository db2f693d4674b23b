"""Worker threads of the thread pools: started as work arrives, one per piece of work until a
thread is free, never more than the limit."""

from __future__ import annotations

import queue
import threading

from taskloom_local._worker_threads import WorkerThreads


class Pool:
    """A queue served by `WorkerThreads`; each thread waits for `go` before its first piece."""

    def __init__(self, limit: int) -> None:
        self.work: queue.SimpleQueue[threading.Event | None] = queue.SimpleQueue()
        self.go = threading.Event()
        self.threads = WorkerThreads(limit, "test-worker", self._serve)

    def _serve(self) -> None:
        self.go.wait()
        while (done := self.work.get()) is not None:
            self.threads.back_to_queue()  # before `done`, so that a test sees the thread free
            done.set()

    def queue(self) -> threading.Event:
        done = threading.Event()
        self.work.put(done)
        self.threads.work_queued()
        return done

    def stop(self) -> None:
        self.go.set()
        for _ in self.threads.threads:
            self.work.put(None)
        for thread in self.threads.threads:
            thread.join(10)


def test_a_thread_not_yet_at_the_queue_does_not_count_as_free() -> None:
    pool = Pool(limit=4)
    try:
        pool.queue()
        pool.queue()  # the first thread has not taken its own piece yet
        assert len(pool.threads.threads) == 2
    finally:
        pool.stop()


def test_a_thread_back_at_the_queue_takes_the_next_piece() -> None:
    pool = Pool(limit=4)
    pool.go.set()
    try:
        assert pool.queue().wait(10)
        first = pool.threads.threads[0]
        assert pool.queue().wait(10)
        assert pool.threads.threads == [first]
    finally:
        pool.stop()


def test_no_more_threads_start_than_the_limit() -> None:
    pool = Pool(limit=2)
    try:
        pieces = [pool.queue() for _ in range(5)]
        assert len(pool.threads.threads) == 2
        pool.go.set()
        assert all(done.wait(10) for done in pieces)
    finally:
        pool.stop()
