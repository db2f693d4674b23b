"""Turning task calls into task runs: run names, upstream futures, the runner's `submit`."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from taskloom._chained import ChainedFuture, Foreign, chained_upstream
from taskloom._context import current_run
from taskloom._logging import RunLogger, log_info, logger
from taskloom._task_call import TaskCall, Upstream
from taskloom._toolkit.batches import auto_batch_size
from taskloom._toolkit.plain import PLAIN_TYPES
from taskloom.futures import FinishedFuture, TaskloomFuture, TaskloomFutureList

if TYPE_CHECKING:
    from taskloom._tasks import Task
    from taskloom._toolkit.runner import TaskRunner

#: Containers whose items `submit` searches for futures (and a flow's return value for states).
CONTAINERS = (list, tuple, set, frozenset, dict)


class Submitter:
    """Turns task calls into task runs on one runner: names them, finds their upstream futures."""

    #: how log lines call the runner: "executor" for a flow given `executor=` (the older
    #: vocabulary), else "task runner"
    runner_word = "task runner"
    #: whether task runs' own lines go to DEBUG and each map logs one summary line instead
    #: (`TASKLOOM_TASK_RUN_LOGS=summary`); read by the flow run, carried to its workers
    summarizes = False
    #: the async backend ("asyncio" or "trio") of the flow run: async task runs that need a
    #: loop of their own (in a worker thread or process) get one of this backend
    async_backend = "asyncio"

    def __init__(self, name: str, flow_name: str, runner: TaskRunner, id: str = "") -> None:
        self.name = name
        self.flow_name = flow_name
        self.runner = runner
        #: the flow run's id (`taskloom.context.flow_run_id`)
        self.id = id
        #: what a task run's code reaches as `current_run.get().flow_run`
        self.flow_run = self
        self._counters: dict[str, Iterator[int]] = {}
        #: runs waiting for another runner's runs before they go to theirs (`ChainedFuture`)
        self.chains: list[ChainedFuture] = []
        #: the maps whose summary lines are still to come (`summarizes`)
        self._summaries: list[Any] = []
        self._notify_submitted: Callable[[TaskCall], None] | None = None
        self._submit: Callable[[TaskCall, Sequence[TaskloomFuture]], TaskloomFuture] = runner.submit
        self._submit_batch: Callable[[Sequence[TaskCall]], list[TaskloomFuture]] = (
            runner.submit_batch
        )

    @property
    def runner_label(self) -> str:
        """The runner as the log lines name it: "task runner `DaskTaskRunner`", or in the
        older vocabulary "executor `DaskExecutor`"."""
        name = self.runner.name
        if self.runner_word == "executor":
            from taskloom._vocabulary import executor_name

            name = executor_name(name)
        return f"{self.runner_word} `{name}`"

    def lane_for(self, spec: Any) -> Submitter:
        """Where runs of a task whose `task_runner` is `spec` go: here for None. A flow run
        starts another runner for them (`FlowRun.lane_for`); a handle in a worker process sends
        them to its own runner."""
        return self

    def submit(
        self,
        task: Task[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        wait_for: Iterable[Any] | None,
    ) -> TaskloomFuture:
        return self._submit_prepared(*self._prepare(task, args, kwargs, wait_for))

    def map(
        self,
        task: Task[..., Any],
        runs: list[tuple[tuple[Any, ...], dict[str, Any]]],
        wait_for: Iterable[Any] | None,
        batch_size: int | str | None,
    ) -> TaskloomFutureList:
        """One run per `(args, kwargs)` of `runs`; those that wait for no run go to the runner
        `batch_size` at a time when it is over 1 (`"auto"`: see `auto_batch_size`)."""
        start = time.perf_counter()
        size = _batch_size(batch_size, len(runs), self.runner)
        if size <= 1 or wait_for is not None:
            return self._mapped(
                task,
                start,
                TaskloomFutureList(
                    [
                        self._submit_prepared(*self._prepare(task, a, k, wait_for, index))
                        for index, (a, k) in enumerate(runs)
                    ]
                ),
            )
        futures: list[TaskloomFuture | None] = [None] * len(runs)
        batch: list[TaskCall] = []
        places: list[int] = []
        for index, (args, kwargs) in enumerate(runs):
            call, upstream, blocked, foreign = self._prepare(task, args, kwargs, None, index)
            if upstream or blocked or foreign:
                # It waits for other runs: on its own, so that a failure upstream of it cannot
                # fail the rest of a batch.
                futures[index] = self._submit_prepared(call, upstream, blocked, foreign)
                continue
            batch.append(call)
            places.append(index)
            if len(batch) == size:
                self._send_batch(batch, places, futures)
                batch, places = [], []
        if batch:
            self._send_batch(batch, places, futures)
        return self._mapped(task, start, TaskloomFutureList(futures))  # type: ignore[arg-type]

    def _mapped(
        self, task: Task[..., Any], start: float, futures: TaskloomFutureList
    ) -> TaskloomFutureList:
        if self.summarizes and futures:
            from taskloom._map_summary import MapSummary

            self._summaries.append(MapSummary(task.name, futures, start))
        return futures

    def _send_batch(
        self, calls: list[TaskCall], places: list[int], futures: list[TaskloomFuture | None]
    ) -> None:
        submitted = self._submit_batch(calls)
        for index, future in zip(places, submitted, strict=True):
            self._adopt(future)
            futures[index] = future

    def _prepare(
        self,
        task: Task[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        wait_for: Iterable[Any] | None,
        map_index: int | None = None,
    ) -> tuple[TaskCall, list[TaskloomFuture], str | None, list[TaskloomFuture]]:
        """The call of one task run, its upstream futures, the name of an upstream run of
        another runner that did not complete (the call cannot run), if any, and the runs of
        other runners not final yet that it waits for (see `ChainedFuture`)."""
        name = self._name_run(task)
        upstream: list[TaskloomFuture] = []
        blocked: list[str] = []
        foreign: list[TaskloomFuture] = []
        if args and _may_hold_futures(args):
            args = self._extract(args, upstream, blocked, foreign)
        if kwargs and _may_hold_futures(kwargs.values()):
            kwargs = self._extract(kwargs, upstream, blocked, foreign)
        n_data = len(upstream)
        if wait_for is not None:
            for item in wait_for:
                if not isinstance(item, TaskloomFuture):
                    raise TypeError(f"wait_for takes futures; got {item!r}")
                if item not in upstream:
                    self._extract(item, upstream, blocked, foreign)
        names = tuple([f.task_run_name for f in upstream]) if upstream else ()
        call = TaskCall(task, name, args, kwargs, names, n_data, self, map_index)
        if self._notify_submitted is not None:
            self._notify_submitted(call)
        if self.summarizes:
            logger.debug("Submitting task run %r to %s...", name, self.runner_word)
        else:
            log_info("Submitting task run %r to %s...", name, self.runner_word)
        return call, upstream, blocked[0] if blocked else None, foreign

    def _submit_prepared(
        self,
        call: TaskCall,
        upstream: list[TaskloomFuture],
        blocked: str | None,
        foreign: list[TaskloomFuture],
    ) -> TaskloomFuture:
        """Submit a call `_prepare` made; one that cannot run ends `NotReady` at once, one
        waiting for runs of other runners is chained to them."""
        if blocked:
            future: TaskloomFuture = FinishedFuture(call, call.finish(call.not_ready(blocked)))
        elif foreign:
            return self._chain(call, upstream, foreign)
        else:
            if upstream and _has_chained(upstream):
                unwrapped = chained_upstream(upstream)
                if unwrapped is None:
                    return self._chain(call, upstream, foreign)
                upstream = unwrapped
            future = self._submit(call, upstream)
        self._adopt(future)
        return future

    def _chain(
        self, call: TaskCall, upstream: list[TaskloomFuture], foreign: list[TaskloomFuture]
    ) -> TaskloomFuture:
        future = ChainedFuture(call, self, upstream, foreign)
        self._adopt(future)
        self.chains.append(future)
        future.begin()
        return future

    def cancel_chains(self) -> None:
        """End `Cancelled` the runs of this flow run still waiting for another runner's runs
        (they will not go to their runner); those already submitted are their runner's."""
        for future in self.chains:
            future.cancel_unsubmitted()

    def _adopt(self, future: TaskloomFuture) -> None:
        future.owner = self
        self._track(future)

    def _name_run(self, task: Task[..., Any]) -> str:
        counter = self._counters.get(task.key)
        if counter is None:
            counter = self._counters.setdefault(task.key, itertools.count())
        return f"{task.name}-{task.key}-{next(counter)}"

    def _extract(
        self,
        value: Any,
        upstream: list[TaskloomFuture],
        blocked: list[str],
        foreign: list[TaskloomFuture],
    ) -> Any:
        """`value` with this runner's futures replaced by placeholders (collected in `upstream`)
        and other runners' futures by their results: by placeholders too (collected in
        `foreign`) while they are not final, unless this runner runs calls at submission."""
        if isinstance(value, TaskloomFuture):
            if value.owner is None or value.owner.runner is self.runner:
                return Upstream(_position(value, upstream))
            # A future of another runner (a parent flow's, say) cannot travel to this one.
            if not value.done() and not self.runner.runs_at_submission:
                return Foreign(_position(value, foreign))
            state = value.wait()
            assert state is not None
            if not state.is_completed():
                blocked.append(value.task_run_name)
                return None
            return state.data
        cls = type(value)
        if cls is dict:
            return {k: self._extract(v, upstream, blocked, foreign) for k, v in value.items()}
        if cls in CONTAINERS:
            return cls(self._extract(v, upstream, blocked, foreign) for v in value)
        if cls is TaskloomFutureList:  # a map's futures passed whole: a list of their values
            return [self._extract(v, upstream, blocked, foreign) for v in value]
        return value

    def _track(self, future: TaskloomFuture) -> None:
        pass

    def remote(self) -> RemoteFlowRun:
        """The handle a task call carries into another process."""
        handle = _remote_flow_run(self.name, self.flow_name, self.runner, self.id, self.summarizes)
        handle.async_backend = self.async_backend
        return handle

    def run_logger(self) -> RunLogger:
        return RunLogger(
            logger, {"run_label": f"Flow run {self.name!r}", "flow_run_name": self.name}
        )


def _position(future: TaskloomFuture, futures: list[TaskloomFuture]) -> int:
    """Where `future` is in `futures`, appended first if it is not there (by identity)."""
    for index, seen in enumerate(futures):
        if seen is future:
            return index
    futures.append(future)
    return len(futures) - 1


def _has_chained(upstream: list[TaskloomFuture]) -> bool:
    return ChainedFuture in map(type, upstream)  # on every submission with upstream: no frame


def _may_hold_futures(values: Iterable[Any]) -> bool:
    for value in values:
        if type(value) in PLAIN_TYPES:
            continue
        if (
            isinstance(value, TaskloomFuture)
            or type(value) in CONTAINERS
            or type(value) is TaskloomFutureList
        ):
            return True
    return False


def _batch_size(batch_size: int | str | None, count: int, runner: TaskRunner) -> int:
    if batch_size is None:
        return 1
    if batch_size == "auto":
        return auto_batch_size(count, runner.parallelism)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise TypeError(
            f"batch_size must be a positive integer, 'auto' or None; got {batch_size!r}"
        )
    return batch_size


class RemoteFlowRun(Submitter):
    """A flow run as seen from a task running in another process: it can submit to the runner.

    Run numbers there are counted per task call, so they carry the parent run's name to stay
    unique: `child-1a2b3c4d-parent-5e6f7a8b-0.0`.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _remote_flow_run,
            (self.name, self.flow_name, self.runner, self.id, self.summarizes),
            {"async_backend": self.async_backend},
        )

    def _name_run(self, task: Task[..., Any]) -> str:
        caller = current_run.get()
        prefix = getattr(caller, "task_run_name", None)
        if prefix is None:  # not inside a task run: counters of this handle alone
            return super()._name_run(task)
        key = f"{task.key}-{prefix}"
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters.setdefault(key, itertools.count())
        return f"{task.name}-{task.key}-{prefix}.{next(counter)}"

    def remote(self) -> RemoteFlowRun:
        return self


def _remote_flow_run(
    name: str, flow_name: str, runner: TaskRunner, id: str, summarizes: bool
) -> RemoteFlowRun:
    handle = RemoteFlowRun(name, flow_name, runner, id)
    handle.summarizes = summarizes
    return handle
