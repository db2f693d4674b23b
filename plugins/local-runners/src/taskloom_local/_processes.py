"""The process pool runner: task runs in local worker processes (stdlib, cloudpickle)."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

import cloudpickle

from taskloom.futures import TaskloomFuture
from taskloom.states import Crashed, Failed, State
from taskloom.task_runners import TaskCall, TaskRunner
from taskloom_local._dependencies import when_final
from taskloom_local._pickling import (
    describe_unpicklable,
    dumps_call,
    dumps_flow_run,
    dumps_plain_fields,
    run_pickled,
    run_plain_fields,
)

if TYPE_CHECKING:
    from typing import Self


class ProcessFuture(TaskloomFuture):
    """A task run of the process pool runner; its state comes back pickled from the worker."""

    __slots__ = ("_cf",)

    def __init__(self, call: TaskCall) -> None:
        super().__init__(call)
        self._cf: Future[bytes] = Future()

    def _wait(self, timeout: float | None) -> State | None:
        try:
            payload = self._cf.result(timeout)
        except TimeoutError:
            return None
        except BrokenProcessPool as exc:
            return Crashed(
                f"Task run {self.task_run_name!r} crashed: its worker process died ({exc})",
                data=exc,
            )
        except Exception as exc:
            # The run's own error. A KeyboardInterrupt or SystemExit here was raised in this
            # waiting thread (Ctrl-C, SIGTERM) and must stop the flow, not crash the run.
            return self.call.state_from_error(exc)
        state: State = cloudpickle.loads(payload)
        return state

    def done(self) -> bool:
        return self._cf.done()

    def add_done_callback(self, fn: Callable[[TaskloomFuture], Any]) -> None:
        self._cf.add_done_callback(lambda _: fn(self))


class ProcessPoolTaskRunner(TaskRunner):
    """Runs task runs in a pool of local worker processes, for CPU-bound Python code.

    Calls and results travel pickled with cloudpickle, so tasks defined in a script work; an
    argument that cannot be pickled fails that task run with an error naming it. Worker
    processes are started with `spawn`, so a script that runs a flow needs the usual
    `if __name__ == "__main__":` guard. `max_workers` defaults to the number of cores.
    A worker process that dies (killed, out of memory) takes the stdlib pool down with it: the
    runs in flight in it end `Crashed`, and later runs start on a fresh pool.
    Task runs a task submits from inside a worker process run in that worker, on threads.
    """

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__()
        if max_workers is not None and (
            isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1
        ):
            raise TypeError(f"max_workers must be a positive integer or None; got {max_workers!r}")
        self.max_workers = max_workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._pickled_tasks: dict[Any, bytes] = {}
        self._pickled_flow_runs: dict[Any, bytes] = {}

    def duplicate(self) -> Self:
        return type(self)(self.max_workers)

    def _start(self) -> None:
        self._pool = ProcessPoolExecutor(
            self.max_workers, mp_context=multiprocessing.get_context("spawn")
        )

    def _cancel(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # The executor has no public way to stop its workers before Python 3.14.
        workers = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in workers:
            process.terminate()
        for process in workers:
            process.join(5)

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=False)
            self._pool = None
        self._pickled_tasks.clear()
        self._pickled_flow_runs.clear()

    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        if self._pool is None:
            raise RuntimeError(f"{self.name} was used before it was started")
        future = ProcessFuture(call)
        when_final(upstream, lambda: self._send(future, upstream))
        return future

    def _send(self, future: ProcessFuture, upstream: Sequence[TaskloomFuture]) -> None:
        call = future.call
        states = [f.wait() for f in upstream]
        try:
            task = self._pickled_tasks.get(call.task)
            if task is None:
                task = self._pickled_tasks[call.task] = cloudpickle.dumps(call.task)
            fields = dumps_plain_fields(call, states)
            if fields is None:
                run: Callable[..., bytes] = run_pickled
                payload: tuple[bytes, ...] = (task, dumps_call(call, states))
            else:
                run, payload = run_plain_fields, (task, self._pickled_flow_run(call), fields)
        except Exception as exc:
            state = call.finish(
                Failed(
                    f"Task run {call.task_run_name!r} could not be sent to a worker process: "
                    f"{describe_unpicklable(call, exc)}",
                    data=exc,
                )
            )
            future._cf.set_result(cloudpickle.dumps(state))
            return
        pool = self._pool
        try:
            if pool is None:
                raise BrokenProcessPool("the runner was shut down")
            try:
                inner = pool.submit(run, *payload)
            except BrokenProcessPool:
                inner = self._fresh_pool(pool).submit(run, *payload)
        except (BrokenProcessPool, RuntimeError) as exc:
            future._cf.set_exception(BrokenProcessPool(str(exc)))
            return
        inner.add_done_callback(lambda done: _chain(done, future._cf))

    def _pickled_flow_run(self, call: TaskCall) -> bytes:
        flow_run = self._pickled_flow_runs.get(call.flow_run)
        if flow_run is None:
            flow_run = self._pickled_flow_runs[call.flow_run] = dumps_flow_run(
                call.flow_run.remote()
            )
        return flow_run

    def _fresh_pool(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        """A pool in place of one a dying worker broke (the stdlib pool never recovers)."""
        with self._lock:
            if self._pool is broken:
                broken.shutdown(wait=False, cancel_futures=True)
                self._start()
            if self._pool is None:
                raise BrokenProcessPool("the runner was shut down")
            return self._pool

    def __reduce__(self) -> tuple[Any, ...]:
        # Inside a worker process the pool is out of reach: nested task runs use threads there.
        from taskloom_local._concurrent import _started_copy

        return (_started_copy, (self.max_workers,))


def _chain(source: Future[bytes], target: Future[bytes]) -> None:
    exc = source.exception()
    if exc is not None:
        target.set_exception(exc)
    else:
        target.set_result(source.result())


__all__ = ["ProcessPoolTaskRunner"]
