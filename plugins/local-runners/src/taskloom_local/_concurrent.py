"""The concurrent runner: sync task runs on worker threads, async ones on one event loop."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from taskloom.futures import TaskloomFuture
from taskloom.states import Cancelled, Crashed, State
from taskloom.task_runners import TaskCall, TaskRunner
from taskloom_local._dependencies import when_final
from taskloom_local._event_loop import EventLoopThread
from taskloom_local._worker_threads import WorkerThreads

if TYPE_CHECKING:
    from typing import Self

_worker = threading.local()


class ThreadFuture(TaskloomFuture):
    """A task run of the concurrent runner.

    Lighter than `concurrent.futures.Future`: a pre-acquired lock is released once the state is
    set, and waiters acquire it. A wait from one of the runner's own worker threads on a run that
    has not started yet runs it right there, so tasks waiting on the tasks they submitted can
    never take every worker and deadlock the pool.
    """

    __slots__ = ("_callbacks", "_finished", "_runner", "_state", "_ticket", "_upstream")

    def __init__(
        self, call: TaskCall, runner: ConcurrentTaskRunner, upstream: Sequence[TaskloomFuture]
    ) -> None:
        super().__init__(call)
        self._runner = runner
        self._upstream = upstream
        self._state: State | None = None
        self._callbacks: list[Callable[[TaskloomFuture], Any]] | None = None
        self._finished = threading.Lock()
        self._finished.acquire()
        # Whoever pops the ticket runs the call: a worker, or a worker that waits for it.
        self._ticket = [True]

    def execute(self) -> None:
        """Run the call here unless another thread already took it."""
        try:
            self._ticket.pop()
        except IndexError:
            return
        upstream, self._upstream = self._upstream, ()
        states = [future.wait() for future in upstream]
        try:
            state = self.call.run(states)  # type: ignore[arg-type]
        except BaseException as exc:  # the engine only lets flow interrupts through
            state = Crashed(f"Task run interrupted by {type(exc).__name__}", data=exc)
        self.set_state(state)

    def set_state(self, state: State) -> None:
        with self._runner._callback_lock:
            self._state = state
            callbacks, self._callbacks = self._callbacks, None
        self._finished.release()
        for callback in callbacks or ():
            callback(self)

    def _wait(self, timeout: float | None) -> State | None:
        if self._state is None:
            if (
                self._ticket
                and getattr(_worker, "runner", None) is self._runner
                and not self.call.is_async
                and all(f.done() for f in self._upstream)
            ):
                self.execute()
            if not self._finished.acquire(timeout=-1 if timeout is None else timeout):
                return None
            self._finished.release()
        return self._state

    def done(self) -> bool:
        return self._state is not None

    def add_done_callback(self, fn: Callable[[TaskloomFuture], Any]) -> None:
        with self._runner._callback_lock:
            if self._state is None:
                if self._callbacks is None:
                    self._callbacks = []
                self._callbacks.append(fn)
                return
        fn(self)


_STOP = None


class ConcurrentTaskRunner(TaskRunner):
    """Runs sync task runs on a pool of threads and async ones concurrently on an event loop.

    The default runner. `max_workers` caps the threads (default: the machine's cores plus four,
    at most 32); they are started as work arrives. Runs start in submission order once their
    upstream runs are final.
    """

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__()
        if max_workers is not None and (
            isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1
        ):
            raise TypeError(f"max_workers must be a positive integer or None; got {max_workers!r}")
        self.max_workers = max_workers or min(32, (os.cpu_count() or 1) + 4)
        self._callback_lock = threading.Lock()
        self._queue: queue.SimpleQueue[ThreadFuture | None] = queue.SimpleQueue()
        self._threads = WorkerThreads(self.max_workers, "taskloom-worker", self._work)
        self._loop: EventLoopThread | None = None
        self._abandon = False

    def duplicate(self) -> Self:
        return type(self)(self.max_workers)

    def _cancel(self) -> None:
        # Threads cannot be stopped: queued runs are cancelled, running ones are left behind
        # (the worker threads are daemons, so they do not keep the process alive).
        self._abandon = True
        while True:
            try:
                future = self._queue.get_nowait()
            except queue.Empty:
                break
            if future is not None and future._ticket:
                future._ticket.pop()
                future.set_state(Cancelled("The flow run was interrupted before this task ran."))
        if self._loop is not None:
            self._loop.cancel_all()

    def _shutdown(self) -> None:
        for _ in self._threads.threads:
            self._queue.put(_STOP)
        if not self._abandon:
            for thread in self._threads.threads:
                thread.join()
        self._threads.clear()
        if self._loop is not None:
            if not self._abandon:
                self._loop.stop()
            self._loop = None
        self._abandon = False

    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        future = ThreadFuture(call, self, upstream)
        if call.is_async:
            when_final(upstream, lambda: self._event_loop().submit(_run_async(future)))
        elif upstream:
            when_final(upstream, lambda: self._enqueue(future))
        else:
            self._enqueue(future)
        return future

    def _enqueue(self, future: ThreadFuture) -> None:
        self._queue.put(future)
        self._threads.work_queued()

    def _work(self) -> None:
        _worker.runner = self
        get = self._queue.get
        back_to_queue = self._threads.back_to_queue
        while True:
            future = get()
            if future is None:
                return
            future.execute()
            back_to_queue()

    def _event_loop(self) -> EventLoopThread:
        with self._callback_lock:
            if self._loop is None:
                self._loop = EventLoopThread(name="taskloom-event-loop")
            return self._loop

    def __reduce__(self) -> tuple[Any, ...]:
        # In another process (a task run handed on by a process-based runner), its copy runs
        # nested task runs on threads of its own.
        return (_started_copy, (self.max_workers,))


_copies: dict[int, ConcurrentTaskRunner] = {}


def _started_copy(max_workers: int) -> ConcurrentTaskRunner:
    """One started runner per process and size, shared by every call unpickled there."""
    runner = _copies.get(max_workers)
    if runner is None:
        runner = _copies.setdefault(max_workers, ConcurrentTaskRunner(max_workers))
        runner.start()
    return runner


async def _run_async(future: ThreadFuture) -> None:
    if not future._ticket:
        return
    future._ticket.pop()
    upstream, future._upstream = future._upstream, ()
    states = [f.wait() for f in upstream]
    try:
        state = await future.call.run_async(states)  # type: ignore[arg-type]
    except BaseException as exc:
        state = Crashed(f"Task run interrupted by {type(exc).__name__}", data=exc)
    future.set_state(state)
