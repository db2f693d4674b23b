"""`LocalDaskTaskRunner`: task runs on dask's local schedulers, without `distributed`.

Runs whose upstream runs are final are gathered into batches, and each batch is one dask graph
computed by the chosen local scheduler (`dask.threaded`, `dask.multiprocessing`, or
`dask.local.get_sync`) on a pool the runner keeps for the flow run. Each run's future is set as
soon as its task finishes, not when its batch does.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from taskloom.exceptions import FlowInterrupted, FlowTerminated
from taskloom.futures import FinishedFuture, TaskloomFuture
from taskloom.states import Crashed, Failed, State
from taskloom.task_runners import (
    TaskCall,
    TaskRunner,
    ThreadCalls,
    check_main_guard,
    leave_signals_to_the_flow,
    signals_blocked,
    unstarted_upstream_first,
    when_final,
)
from taskloom_dask._local_future import LocalDaskFuture, pool_thread
from taskloom_dask._pickle_errors import why_unsendable

if TYPE_CHECKING:
    from typing import Self

#: Names dask accepts for its local schedulers, by the name this runner uses.
SCHEDULERS = {
    "threads": "threads",
    "threading": "threads",
    "processes": "processes",
    "multiprocessing": "processes",
    "synchronous": "synchronous",
    "sync": "synchronous",
    "single-threaded": "synchronous",
}


class LocalDaskTaskRunner(TaskRunner):
    """Runs task runs with one of dask's local schedulers: no cluster, only `dask`.

    `scheduler="threads"` (the default) runs them on a pool of threads: good for I/O and for
    code that releases the GIL. `"processes"` runs them in local worker processes (spawned, so
    a script needs the `if __name__ == "__main__":` guard; arguments and results travel pickled
    with cloudpickle). `"synchronous"` runs each one in the submitting thread, at once, in
    submission order: for debugging. `num_workers` sizes the pool (default: the cores).
    Further keyword arguments are dask configuration (`LocalDaskExecutor(scheduler="threads",
    **{"optimization.fuse.active": False})`; `a__b=1` means `a.b`), set while the runner runs.
    Dask's configuration is process-wide: it applies to the flow's process and its threads,
    not to the worker processes of `"processes"`, and flows that run at the same time share it.
    """

    def __init__(
        self, scheduler: str = "threads", num_workers: int | None = None, **config: Any
    ) -> None:
        super().__init__()
        if not isinstance(scheduler, str) or scheduler.lower() not in SCHEDULERS:
            raise ValueError(
                f"scheduler must be one of 'threads', 'processes' or 'synchronous'; "
                f"got {scheduler!r}"
            )
        if num_workers is not None and (
            isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1
        ):
            raise TypeError(f"num_workers must be a positive integer or None; got {num_workers!r}")
        self.scheduler = SCHEDULERS[scheduler.lower()]
        self.runs_at_submission = self.scheduler == "synchronous"
        self.num_workers = num_workers
        #: dask configuration set while the runner runs (see the class docstring)
        self.config = config
        self._config_set: Any = None
        # Guards the pools, the ready runs and `_closed`: runs are queued from whichever thread
        # finished their last upstream run, while the flow's thread may be shutting down.
        self._lock = threading.Lock()
        self._pool: Executor | None = None
        #: threads that compute batches of ready runs with dask's scheduler (see `_drive`)
        self._drivers: ThreadPoolExecutor | None = None
        self._ready: list[LocalDaskFuture] = []
        self._driving = 0
        self._closed = True
        self._keys = itertools.count()
        #: runs submitted and not final yet, for cancellation
        self.unfinished: set[LocalDaskFuture] = set()
        self.calls = ThreadCalls()
        # Set where a started runner was unpickled (see `_unpickled`): the runner nested runs
        # go to.
        self._threads: LocalDaskTaskRunner | None = None

    def duplicate(self) -> Self:
        return type(self)(self.scheduler, self.num_workers, **self.config)

    @property
    def workers(self) -> int:
        """How many task runs may run at once."""
        if self.scheduler == "synchronous":
            return 1
        from dask.system import CPU_COUNT

        return self.num_workers or CPU_COUNT

    # -- start and shutdown ------------------------------------------------------------------

    def _start(self) -> None:
        if self.scheduler == "processes":
            check_main_guard(self.name)
        if self.config:
            import dask

            self._config_set = dask.config.set(**self.config)
        self._closed = False
        self.calls = ThreadCalls()

    def _restore_config(self) -> None:
        config_set, self._config_set = self._config_set, None
        if config_set is not None:
            config_set.__exit__(None, None, None)

    def _cancel(self) -> None:
        if self._threads is not None:
            # The threads runner is the process's, shared by every call unpickled here.
            return
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
            self._ready.clear()
        for future in list(self.unfinished):
            if future.take():
                future.set_state(future.call.cancelled(started=False))
        self.calls.stop()
        self._restore_config()
        if pool is None:
            return
        # Worker processes are stopped; threads were told to stop their runs (above).
        # (ProcessPoolExecutor has no public way to reach its processes before Python 3.14.)
        # SIGKILL: they ignore SIGTERM (see `leave_signals_to_the_flow`).
        processes = list((getattr(pool, "_processes", None) or {}).values())
        for process in processes:
            process.kill()
        for process in processes:
            process.join(5)
        # Joins a process pool's manager thread (now at once), which would otherwise race the
        # interpreter's exit hook; a thread pool's running calls are left to their threads.
        pool.shutdown(wait=bool(processes), cancel_futures=True)

    def _shutdown(self) -> None:
        if self._threads is not None:
            return
        # From here on nothing is queued (a run whose upstream finishes later is cancelled);
        # the drivers finish the batches they hold, then the pool is shut down.
        with self._lock:
            self._closed = True
            drivers, self._drivers = self._drivers, None
        if drivers is not None:
            drivers.shutdown(wait=True)
        with self._lock:
            pool, self._pool = self._pool, None
            self._ready.clear()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self.unfinished.clear()
        self._restore_config()

    def _executor(self) -> Executor:
        with self._lock:
            if self._pool is None:
                if self._closed:
                    raise RuntimeError(f"{self.name} was cancelled or shut down")
                self._pool = self._new_pool()
            return self._pool

    def _new_pool(self) -> Executor:
        if self.scheduler == "processes":
            from concurrent.futures import ProcessPoolExecutor

            from dask.multiprocessing import get_context

            return ProcessPoolExecutor(
                self.workers, mp_context=get_context(), initializer=leave_signals_to_the_flow
            )
        return ThreadPoolExecutor(
            self.workers,
            thread_name_prefix="taskloom-dask",
            initializer=_mark_pool_thread,
            initargs=(self,),
        )

    # -- submitting ---------------------------------------------------------------------------

    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        if self._threads is not None:
            return self._threads.submit(call, upstream)
        if self._closed:
            raise RuntimeError(f"{self.name} was used before it was started or after shutdown")
        key = f"{call.task_run_name}-{next(self._keys)}"
        if self.scheduler == "synchronous":
            return self._run_synchronously(call, upstream, key)
        future = LocalDaskFuture(call, self, upstream, key)
        self.unfinished.add(future)
        when_final(upstream, lambda: self._queue(future))
        return future

    def _run_synchronously(
        self, call: TaskCall, upstream: Sequence[TaskloomFuture], key: str
    ) -> TaskloomFuture:
        from dask.local import get_sync

        states = [future.wait() for future in upstream]
        state: State = get_sync({key: (_run_call, call, states)}, key)
        return FinishedFuture(call, state)

    def _queue(self, future: LocalDaskFuture) -> None:
        """A run whose upstream runs are final: into the next batch a driver computes."""
        with self._lock:
            closed = self._closed
            if not closed:
                self._ready.append(future)
                if self._driving < self.workers:
                    self._driving += 1
                    if self._drivers is None:
                        self._drivers = ThreadPoolExecutor(
                            self.workers, thread_name_prefix="taskloom-dask-driver"
                        )
                    self._drivers.submit(self._drive)
        if closed and future.take():
            future.set_state(future.call.cancelled(started=False))

    def _drive(self) -> None:
        """Compute batches of ready runs until none is left."""
        while True:
            with self._lock:
                batch, self._ready = self._ready, []
                if not batch:
                    self._driving -= 1
                    return
            self._compute(batch)

    def _compute(self, batch: list[LocalDaskFuture]) -> None:
        by_key = {future.key: future for future in batch}

        def finished(key: str, state: State | None, *_: Any) -> None:
            if state is not None:
                by_key[key].set_state(state)

        try:
            graph = self._graph(batch)
            self._get(graph, list(graph), finished)
        except BaseException as exc:  # a pool that broke, or a run that could not be pickled
            if self._closed:
                # Cancelled: runs nobody took never start; the taken ones end in their thread.
                for future in batch:
                    if future.take():
                        future.set_state(future.call.cancelled(started=False))
                return
            unfinished = [future for future in batch if not future.done()]
            if len(unfinished) > 1 and not isinstance(exc, _PoolBrokenError) and not self._closed:
                for future in unfinished:  # one at a time, so only the culprit fails
                    self._compute([future])
                return
            for future in unfinished:
                future.set_state(future.call.finish(self._crashed(future, exc)))

    def _graph(self, batch: list[LocalDaskFuture]) -> dict[str, Any]:
        if self.scheduler == "processes":
            # No thread of this process runs these calls, so nothing else can take them.
            return {f.key: (_run_call, f.call, f.upstream_states()) for f in batch}
        return {future.key: (_run_future, future) for future in batch}

    def _get(self, graph: dict[str, Any], keys: list[str], finished: Callable[..., None]) -> None:
        callbacks = [(None, None, None, finished, None)]
        pool = self._executor()
        if self.scheduler == "processes":
            from concurrent.futures.process import BrokenProcessPool

            import dask.multiprocessing

            try:
                # One run per message to a worker: dask's default sends up to 6 ready calls
                # to one process, which runs them one after another. The pool may start worker
                # processes meanwhile (see `leave_signals_to_the_flow`).
                with signals_blocked():
                    dask.multiprocessing.get(
                        graph, keys, pool=pool, callbacks=callbacks, chunksize=1
                    )
            except BrokenProcessPool as exc:
                raise _PoolBrokenError(exc) from exc
        else:
            import dask.threaded

            dask.threaded.get(graph, keys, pool=pool, callbacks=callbacks)

    def _crashed(self, future: LocalDaskFuture, exc: BaseException) -> State:
        if isinstance(exc, _PoolBrokenError):
            cause = exc.__cause__ or exc
            return Crashed(
                f"Task run {future.task_run_name!r} crashed: a worker process died "
                f"({type(cause).__name__}: {cause}). A script that runs a flow on worker "
                'processes needs the `if __name__ == "__main__":` guard.',
                data=cause,
            )
        if isinstance(exc, Exception) and self.scheduler == "processes":
            return Failed(
                f"Task run {future.task_run_name!r} could not be sent to a worker process: "
                f"{why_unsendable(future.call, exc)}",
                data=exc,
            )
        return Crashed(
            f"Task run {future.task_run_name!r} crashed: {type(exc).__name__}: {exc}", data=exc
        )

    def run_here(self, future: LocalDaskFuture) -> None:
        """Run `future`, and the runs of this runner it waits for that have not started, in
        this pool thread now (see `unstarted_upstream_first`)."""

        def unstarted(candidate: TaskloomFuture) -> bool:
            return isinstance(candidate, LocalDaskFuture) and candidate.runs_on(self)

        for pending in unstarted_upstream_first(future, unstarted, _upstream_of):
            _run_future(pending)

    def __copy__(self) -> Self:
        return self.duplicate()

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        # Pickling gives the worker-side form (see `__reduce__`); a copy is a configured twin.
        return self.duplicate()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unpickled, (self.scheduler, self.num_workers, self.config, self._started))


class _PoolBrokenError(Exception):
    """The process pool lost a worker process: every run still in it is lost."""


def _mark_pool_thread(runner: LocalDaskTaskRunner) -> None:
    pool_thread.runner = runner


def _upstream_of(future: LocalDaskFuture) -> Sequence[TaskloomFuture]:
    return future.upstream


def _run_call(call: TaskCall, states: list[State]) -> State:
    """Run a call in a worker process and return its final state."""
    try:
        return call.run(states)
    except (FlowInterrupted, FlowTerminated):
        # A signal to the flow, raised here because the synchronous scheduler runs calls in the
        # flow's own thread: the run is already Cancelled, and the flow must stop.
        raise
    except BaseException as exc:  # the engine lets only flow interrupts through
        return call.finish(Crashed(f"Task run interrupted by {type(exc).__name__}", data=exc))


def _run_future(future: LocalDaskFuture) -> State | None:
    """Run a future's call in this pool thread, unless another thread already took it."""
    if not future.take():
        return None
    state = future.runner.calls.run(future.call, future.upstream_states())
    future.set_state(state)
    return state


_process_runner: LocalDaskTaskRunner | None = None


def _unpickled(
    scheduler: str, num_workers: int | None, config: dict[str, Any], started: bool
) -> LocalDaskTaskRunner:
    """A pickled runner, back as itself with its options. A started one travels with task
    calls into worker processes of the "processes" scheduler: task runs a task submits run
    there, on threads."""
    runner = LocalDaskTaskRunner(scheduler, num_workers, **config)
    if started:
        runner._threads = _process_side_runner()
        runner._started = True
    return runner


def _process_side_runner() -> LocalDaskTaskRunner:
    """One started threads runner per process, for the calls unpickled there."""
    global _process_runner
    if _process_runner is None:
        runner = LocalDaskTaskRunner("threads")
        runner.start()
        _process_runner = runner
    return _process_runner


__all__ = ["LocalDaskTaskRunner"]
