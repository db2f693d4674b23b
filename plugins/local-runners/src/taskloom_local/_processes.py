"""The process pool runner: task runs in local worker processes (stdlib, cloudpickle)."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, NamedTuple

import cloudpickle

from taskloom.exceptions import TaskRunnerError
from taskloom.futures import TaskloomFuture
from taskloom.states import Crashed, Failed, State
from taskloom.task_runners import (
    GUARD_HINT,
    Backlog,
    TaskCall,
    TaskRunner,
    dumps_flow_run,
    keep_main_out_of_spawned_workers,
    leave_signals_to_the_flow,
    runs_from_unguarded_main,
    signals_blocked,
    when_final,
)
from taskloom_local._pickling import (
    describe_unpicklable,
    dumps_call,
    dumps_plain_fields,
    run_pickled,
    run_pickled_batch,
    run_plain_batch,
    run_plain_fields,
)

if TYPE_CHECKING:
    from typing import Self


class ProcessFuture(TaskloomFuture):
    """A task run of the process pool runner; its state comes back pickled from the worker."""

    __slots__ = ("_cf", "inner")

    def __init__(self, call: TaskCall) -> None:
        super().__init__(call)
        self._cf: Future[bytes | State] = Future()
        #: the stdlib pool's future of the run, once it was sent to a worker
        self.inner: Future[bytes] | None = None

    def settle(self, state: State) -> None:
        """Make `state` final unless the run already ended (the first outcome wins)."""
        self.settle_with(self._cf, cloudpickle.dumps(state), None)

    @staticmethod
    def settle_with(
        target: Future[bytes | State], payload: bytes | State | None, error: BaseException | None
    ) -> None:
        with contextlib.suppress(InvalidStateError):
            if error is not None:
                target.set_exception(error)
            else:
                assert payload is not None
                target.set_result(payload)

    def _wait(self, timeout: float | None) -> State | None:
        try:
            payload = self._payload(timeout)
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
        if isinstance(payload, State):  # one of a batch, whose states came back together
            return payload
        state: State = cloudpickle.loads(payload)
        return state

    def _payload(self, timeout: float | None) -> bytes | State:
        return self._cf.result(timeout)

    def done(self) -> bool:
        return self._cf.done()

    def add_done_callback(self, fn: Callable[[TaskloomFuture], Any]) -> None:
        self._cf.add_done_callback(lambda _: fn(self))


class BatchElementFuture(ProcessFuture):
    """A run of a batch: its state is its entry in the batch's list, which comes back once for
    the whole batch (a stdlib future per run would cost more than a trivial run)."""

    __slots__ = ("_batch", "_index", "_settled")

    def __init__(self, call: TaskCall, batch: Future[Any], index: int) -> None:
        TaskloomFuture.__init__(self, call)
        self._batch = batch
        self._index = index
        self._settled: State | None = None
        self.inner = None

    def settle(self, state: State) -> None:
        # On its own (cancelled before its batch came back): the first outcome wins.
        if self._settled is None and not self._batch.done():
            self._settled = state

    def _wait(self, timeout: float | None) -> State | None:
        if self._settled is None:
            try:
                self._batch.exception(timeout)  # waits, raising nothing of the batch's
            except TimeoutError:
                return self._settled
        if self._settled is not None:
            return self._settled
        return super()._wait(0)

    def _payload(self, timeout: float | None) -> bytes | State:
        payload: bytes | State = self._batch.result(timeout)[self._index]
        return payload

    def done(self) -> bool:
        return self._settled is not None or self._batch.done()

    def add_done_callback(self, fn: Callable[[TaskloomFuture], Any]) -> None:
        if self._settled is not None:
            fn(self)
            return
        self._batch.add_done_callback(lambda _: fn(self))


class ProcessPoolTaskRunner(TaskRunner):
    """Runs task runs in a pool of local worker processes, for CPU-bound Python code.

    Calls and results travel pickled with cloudpickle, so tasks defined in a script work; an
    argument that cannot be pickled fails that task run with an error naming it. Worker
    processes are forked from multiprocessing's fork server (`spawn` where there is none) and
    do not run the script that started the flow (what its tasks need of it travels with them,
    by value), so a script needs no `if __name__ == "__main__":` guard; a module run with
    `python -m` does. `max_workers` defaults to the number of cores.
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
        # Guards the pool and `_closed`: runs are sent from whichever thread finished their
        # last upstream run, while the flow's thread may be shutting the runner down.
        self._lock = threading.Lock()
        self._closed = True
        self._may_spawn = 0
        self._restore_main: Callable[[], None] | None = None
        self._unfinished: set[ProcessFuture] = set()
        self._pickled_tasks: dict[Any, bytes] = {}
        self._pickled_flow_runs: dict[Any, bytes] = {}
        self._backlog: Backlog[_Outgoing] = Backlog(
            self._send_to_pool, _group_key, depth=1, workers=1
        )
        # Set in a worker process (see `_unpickled`): the runner nested runs go to.
        self._threads: TaskRunner | None = None

    def duplicate(self) -> Self:
        return type(self)(self.max_workers)

    def _start(self) -> None:
        # Workers skip the script: its imports would cost each new worker as much as the
        # interpreter's start (or more), and an unguarded one would run its flow again.
        self._restore_main = keep_main_out_of_spawned_workers()
        if runs_from_unguarded_main():
            # `python -m` of a module that runs its flow when imported: each spawned worker
            # would run it again. Say so before any starts, rather than a `BrokenProcessPool`
            # and a traceback from every worker.
            self._release_main()
            script = getattr(sys.modules["__main__"], "__file__", "the script")
            raise TaskRunnerError(
                f"{self.name} starts worker processes that first run {script} again, and "
                f"it runs its flow at its top level. {GUARD_HINT}"
            )
        self._pool = self._new_pool()
        workers = self.parallelism
        self._backlog = Backlog(self._send_to_pool, _group_key, depth=2 * workers, workers=workers)
        self._closed = False

    def _release_main(self) -> None:
        restore, self._restore_main = self._restore_main, None
        if restore is not None:
            restore()

    def _new_pool(self) -> ProcessPoolExecutor:
        # The stdlib pool starts a worker process on a submission that finds none idle, until
        # it has `max_workers`: only that many submissions to a new pool can start one.
        self._may_spawn = self.max_workers or os.cpu_count() or 1
        return ProcessPoolExecutor(
            self.max_workers,
            mp_context=_worker_context(),
            initializer=leave_signals_to_the_flow,
        )

    def _cancel(self) -> None:
        if self._threads is not None:
            # The thread runner is the process's, shared by every call unpickled here.
            return
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        for future in list(self._unfinished):
            inner = future.inner
            future.settle(future.call.cancelled(started=inner is not None and inner.running()))
        self._unfinished.clear()
        self._backlog.close()  # what it held is cancelled already: nothing goes
        if pool is not None:
            stop_worker_processes(pool)
        self._release_main()

    def _shutdown(self) -> None:
        if self._threads is not None:
            return
        self._backlog.close()  # every run held goes to the pool, which runs it before it stops
        # From here on nothing is sent (a run whose upstream finishes later is cancelled).
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        try:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=False)
        finally:
            self._release_main()
        self._unfinished.clear()
        self._pickled_tasks.clear()
        self._pickled_flow_runs.clear()

    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        if self._threads is not None:
            return self._threads.submit(call, upstream)
        if self._closed:
            raise RuntimeError(f"{self.name} was used before it was started or after shutdown")
        future = ProcessFuture(call)
        self._unfinished.add(future)
        when_final(upstream, lambda: self._send(future, upstream))
        return future

    def submit_batch(self, calls: Sequence[TaskCall]) -> list[TaskloomFuture]:
        if self._threads is not None:
            return self._threads.submit_batch(calls)
        if self._closed:
            raise RuntimeError(f"{self.name} was used before it was started or after shutdown")
        try:
            task = self._pickled_task(calls[0].task)
            fields = [dumps_plain_fields(call, []) for call in calls]
            if all(f is not None for f in fields):
                run: Callable[..., bytes | list[bytes]] = run_plain_batch
                payload: tuple[Any, ...] = (task, self._pickled_flow_run(calls[0]), fields)
            else:
                run, payload = run_pickled_batch, (task, dumps_call(list(calls), []))
        except Exception:
            # Some call cannot be pickled: on their own, each with its own error.
            return [self.submit(call, ()) for call in calls]
        batch: Future[Any] = Future()
        futures = [BatchElementFuture(call, batch, index) for index, call in enumerate(calls)]
        self._unfinished.update(futures)
        try:
            with self._lock:
                pool = self._pool
                inner = None if self._closed or pool is None else self._submit(pool, run, payload)
        except (BrokenProcessPool, RuntimeError) as exc:
            batch.set_exception(BrokenProcessPool(str(exc)))
            self._unfinished.difference_update(futures)
            return list(futures)
        if inner is None:
            for future in futures:
                future.settle(future.call.cancelled(started=False))
            batch.set_result(None)
            self._unfinished.difference_update(futures)
            return list(futures)
        for future in futures:
            future.inner = inner
        inner.add_done_callback(lambda done: self._batch_returned(futures, batch, done))
        return list(futures)

    def _batch_returned(
        self,
        futures: list[BatchElementFuture],
        batch: Future[Any],
        done: Future[bytes | list[bytes]],
    ) -> None:
        """The pool's future of a batch is done: each run's outcome, unless it was cancelled."""
        if done.cancelled():
            for future in futures:
                future.settle(future.call.cancelled(started=False))
            batch.set_result(None)
        elif (error := done.exception()) is not None:
            batch.set_exception(error)
        else:
            batch.set_result(_batch_payloads(done.result()))
        self._unfinished.difference_update(futures)

    @property
    def parallelism(self) -> int:
        return self.max_workers or super().parallelism

    def _pickled_task(self, task: Any) -> bytes:
        pickled = self._pickled_tasks.get(task)
        if pickled is None:
            pickled = self._pickled_tasks[task] = cloudpickle.dumps(task)
        return pickled

    def _send(self, future: ProcessFuture, upstream: Sequence[TaskloomFuture]) -> None:
        call = future.call
        if self._closed:
            self._end(future, call.cancelled(started=False))
            return
        states = [f.wait() for f in upstream]
        try:
            task = self._pickled_task(call.task)
            fields = dumps_plain_fields(call, states)
            if fields is None:
                outgoing = _Outgoing(future, run_pickled, (task, dumps_call(call, states)), None)
            else:
                flow_run = self._pickled_flow_run(call)
                outgoing = _Outgoing(
                    future, run_plain_fields, (task, flow_run, fields), (task, flow_run)
                )
        except Exception as exc:
            message = (
                f"Task run {call.task_run_name!r} could not be sent to a worker process: "
                f"{describe_unpicklable(call, exc)}"
            )
            self._end(future, call.finish(Failed(message, data=exc)))
            return
        self._backlog.offer(outgoing)

    def _send_to_pool(self, group: Sequence[_Outgoing], done: Callable[[], None]) -> None:
        """Send runs of the backlog to the pool: one as itself, several (plain calls of one
        task and flow run) as one batch; `done()` once the pool's future of it is done."""
        if len(group) == 1:
            run, payload = group[0].run, group[0].payload
        else:
            task, flow_run, _ = group[0].payload
            run, payload = run_plain_batch, (task, flow_run, [o.payload[2] for o in group])
        futures = [outgoing.future for outgoing in group]
        try:
            with self._lock:
                pool = self._pool
                inner = None if self._closed or pool is None else self._submit(pool, run, payload)
        except (BrokenProcessPool, RuntimeError) as exc:
            self._settle_all(futures, error=BrokenProcessPool(str(exc)))
            done()
            return
        except Exception as exc:
            # A worker that could not start (out of processes, say): these runs fail with it.
            # Raised instead, from the thread of whichever submission came back, it would
            # leave them unfinished.
            self._settle_all(futures, error=exc)
            done()
            return
        if inner is None:
            self._settle_all(futures, cancelled=True)
            done()
            return
        for future in futures:
            future.inner = inner

        def returned(finished: Future[Any]) -> None:
            try:
                self._returned(futures, finished)
            finally:
                done()

        inner.add_done_callback(returned)

    def _submit(
        self, pool: ProcessPoolExecutor, run: Callable[..., Any], payload: tuple[Any, ...]
    ) -> Future[Any]:
        """Submit to the pool; to a fresh one in place of one a dying worker broke (the stdlib
        pool never recovers). Called under the lock."""
        if self._may_spawn <= 0:
            try:
                return pool.submit(run, *payload)
            except BrokenProcessPool:
                pass  # a fresh pool, below
        # A submission may start a worker process (see `leave_signals_to_the_flow`); blocking
        # the signals costs more than a trivial run, so only while it may.
        with signals_blocked():
            if pool is self._pool and self._may_spawn > 0:
                self._may_spawn -= 1
                try:
                    return pool.submit(run, *payload)
                except BrokenProcessPool:
                    pass
            pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            self._may_spawn -= 1
            return self._pool.submit(run, *payload)

    def _returned(self, futures: list[ProcessFuture], done: Future[Any]) -> None:
        """The pool's future of runs is done: each one's outcome, unless it was cancelled."""
        if done.cancelled():
            self._settle_all(futures, cancelled=True)
        elif (error := done.exception()) is not None:
            self._settle_all(futures, error=error)
        elif len(futures) == 1:
            ProcessFuture.settle_with(futures[0]._cf, done.result(), None)
            self._unfinished.discard(futures[0])
        else:
            for future, payload in zip(futures, _batch_payloads(done.result()), strict=True):
                ProcessFuture.settle_with(future._cf, payload, None)
            self._unfinished.difference_update(futures)

    def _settle_all(
        self,
        futures: list[ProcessFuture],
        *,
        cancelled: bool = False,
        error: BaseException | None = None,
    ) -> None:
        for future in futures:
            if cancelled:
                future.settle(future.call.cancelled(started=False))
            else:
                ProcessFuture.settle_with(future._cf, None, error)
        self._unfinished.difference_update(futures)

    def _end(self, future: ProcessFuture, state: State) -> None:
        future.settle(state)
        self._unfinished.discard(future)

    def _pickled_flow_run(self, call: TaskCall) -> bytes:
        flow_run = self._pickled_flow_runs.get(call.flow_run)
        if flow_run is None:
            flow_run = self._pickled_flow_runs[call.flow_run] = dumps_flow_run(call.flow_run)
        return flow_run

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unpickled, (self.max_workers, self._started))


class _Outgoing(NamedTuple):
    """A run ready for the pool: what runs it there, and with what. `key` is its task and flow
    run, pickled, for a plain call (runs with the same key may share a submission)."""

    future: ProcessFuture
    run: Callable[..., Any]
    payload: tuple[Any, ...]
    key: tuple[bytes, bytes] | None


def _batch_payloads(returned: bytes | list[bytes]) -> list[Any]:
    """Each run's entry in what `run_plain_batch` returned: all plain, the states pickled
    together (unpickled here); else each state pickled on its own."""
    return pickle.loads(returned) if isinstance(returned, bytes) else returned


def _group_key(outgoing: _Outgoing) -> tuple[bytes, bytes] | None:
    return outgoing.key


def _unpickled(max_workers: int | None, started: bool) -> ProcessPoolTaskRunner:
    """A pickled runner, back as itself. A started one travels with task calls into worker
    processes, where the pool is out of reach: nested task runs run there on threads, in a
    thread runner shared by the process."""
    runner = ProcessPoolTaskRunner(max_workers)
    if started:
        from taskloom_local._concurrent import _started_copy

        runner._threads = _started_copy(max_workers)
        runner._started = True
    return runner


#: What every worker process runs: imported once, by the fork server, before it forks any.
_WORKER_MODULES = ["taskloom_local._pickling"]


def _worker_context() -> Any:
    """Workers forked from multiprocessing's fork server, which imports the worker's modules
    once.

    Each `spawn`ed worker pays the interpreter's start and taskloom's and cloudpickle's imports,
    about 0.1 s of CPU (a raw pool forks, which is unsafe from a flow's process that runs
    threads); forked from the server, a fresh pool's workers are ready at once: a 4-task flow on
    2 workers took 0.11 s, now 0.06-0.09 s. A long map's per-task figure does not change (the
    flow's process is its bottleneck, not the workers' start). The fork server is started fresh
    (fork and exec, like `spawn`) by the first pool, inside `signals_blocked()` like any worker
    start, so it and every worker it forks start with SIGINT and SIGTERM blocked; it stays for
    the life of the flow's process, as multiprocessing's resource tracker does, and ends with
    it. Where there is no fork server (Windows, macOS's default), workers are spawned.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_WORKER_MODULES)
    return context


def stop_worker_processes(pool: ProcessPoolExecutor) -> None:
    """Stop a pool's worker processes now, with whatever they run, and shut the pool down.

    The processes are stopped first, so the shutdown that follows joins the pool's manager
    thread at once: a pool left to wind down by itself races the interpreter's exit, whose
    hook then writes to the pool's closed wake-up pipe ("Bad file descriptor").
    """
    # The executor has no public way to stop its workers before Python 3.14. SIGKILL: they
    # ignore SIGTERM (see `taskloom.task_runners.leave_signals_to_the_flow`).
    workers = list((getattr(pool, "_processes", None) or {}).values())
    for process in workers:
        process.kill()
    for process in workers:
        process.join(5)
    pool.shutdown(wait=True, cancel_futures=True)


__all__ = ["ProcessPoolTaskRunner"]
