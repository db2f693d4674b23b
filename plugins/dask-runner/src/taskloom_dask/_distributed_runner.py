"""`DaskTaskRunner`: task runs on a `dask.distributed` cluster, temporary or existing."""

from __future__ import annotations

import contextlib
import logging
import pickle
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import cloudpickle
import distributed

import taskloom
from taskloom.exceptions import TaskRunnerError
from taskloom.futures import FinishedFuture, TaskloomFuture
from taskloom.states import Failed
from taskloom.task_runners import (
    TaskCall,
    TaskRunner,
    check_main_guard,
    keep_main_out_of_spawned_workers,
    logger,
)
from taskloom_dask import _cluster
from taskloom_dask._addresses import (
    address_error,
    missing_tls_credentials,
    reset_hint,
    scheduler_address,
)
from taskloom_dask._batch_future import DaskBatch, DaskBatchFuture
from taskloom_dask._distributed_future import DaskFuture, dask_key
from taskloom_dask._interrupted_sync import quiet_interrupted_sync
from taskloom_dask._log_forwarding import forward_worker_logs
from taskloom_dask._payload import dumps_call, dumps_calls, dumps_task
from taskloom_dask._performance import PerformanceReport
from taskloom_dask._pickle_errors import why_unsendable
from taskloom_dask._submit_options import submit_options
from taskloom_dask._worker import run_task_batch, run_task_call

if TYPE_CHECKING:
    from typing import Self

#: How long connecting to an existing scheduler may take unless `client_kwargs` says otherwise.
CONNECT_TIMEOUT_SECONDS = 5

_DASK_LOGGERS = ("distributed", "dask")


class DaskTaskRunner(TaskRunner):
    """Runs task runs on a Dask cluster through `dask.distributed`.

    Without `address`, each flow run gets a temporary cluster, created when its runner starts
    and closed when it shuts down: a `distributed.LocalCluster` listening on 127.0.0.1 unless
    `cluster_class` names another class (an import string, a class, or a function returning a
    cluster), created with `cluster_kwargs` and scaled adaptively with `adapt_kwargs` when given.

    With `address` (`"tcp://host:8786"`), the runner connects to that scheduler and leaves the
    cluster as it found it: at shutdown it stops submitting and releases every future it holds;
    task runs already running finish on their workers.

    `client_kwargs` go to `distributed.Client` (`security=` for TLS, for instance); `debug=True`
    turns dask's logging up to DEBUG; with `performance_report_path`, Dask's HTML performance
    report of each flow run is written there and kept in `performance_report`.

    `dask.annotate(priority=..., resources=..., retries=...)` around `submit`/`map` reaches the
    scheduler, and task tags `dask-resource:KEY=NUM` ask for worker resources `{KEY: NUM}`.
    A future passed to a task travels as a Dask future: the value goes from worker to worker.
    """

    def __init__(
        self,
        address: str | None = None,
        cluster_class: str | Callable[..., Any] | None = None,
        cluster_kwargs: Mapping[str, Any] | None = None,
        adapt_kwargs: Mapping[str, Any] | None = None,
        client_kwargs: Mapping[str, Any] | None = None,
        debug: bool | None = None,
        performance_report_path: str | None = None,
    ) -> None:
        super().__init__()
        if address is not None:
            if not isinstance(address, str) or not address.strip():
                raise TypeError(f"address must be a scheduler address string; got {address!r}")
            address = scheduler_address(address.strip()) or address.strip()
            if (problem := address_error(address)) is not None:
                raise ValueError(problem)
            if cluster_class is not None or cluster_kwargs or adapt_kwargs:
                raise ValueError(
                    "DaskTaskRunner connects to the cluster at `address` or creates a temporary "
                    "one from `cluster_class`/`cluster_kwargs`/`adapt_kwargs`, not both"
                )
        if cluster_class is not None and not isinstance(cluster_class, str):
            _cluster.resolve_cluster_class(cluster_class)  # fails early for a non-callable
        self.address = address
        self.cluster_class = cluster_class
        self.cluster_kwargs = _mapping("cluster_kwargs", cluster_kwargs)
        self.adapt_kwargs = None if adapt_kwargs is None else _mapping("adapt_kwargs", adapt_kwargs)
        self.client_kwargs = _mapping("client_kwargs", client_kwargs)
        self.debug = bool(debug)
        self.performance_report_path = performance_report_path
        #: the HTML of the performance report of the latest run, when a path was given
        self.performance_report: str | None = None
        self._origin: DaskTaskRunner | None = None
        self._client: distributed.Client | None = None
        self._cluster: Any = None
        self._restore_main: Callable[[], None] | None = None
        self._stop_forwarding: Callable[[], None] | None = None
        #: the started runner as task calls carry it to workers (see `__reduce__`)
        self._worker_form: bytes | None = None
        self._report: PerformanceReport | None = None
        self._held: list[distributed.Future] = []  # type: ignore[type-arg]
        self._log_levels: dict[str, int] = {}
        self._in_worker = False
        # Weak: a task defined in a script comes out of each unpickling as a new object.
        self._pickled_tasks: weakref.WeakKeyDictionary[Any, bytes] = weakref.WeakKeyDictionary()

    def duplicate(self) -> Self:
        new = type(self)(
            self.address,
            self.cluster_class,
            self.cluster_kwargs,
            self.adapt_kwargs,
            self.client_kwargs,
            self.debug,
            self.performance_report_path,
        )
        # The run's copy reports back to the runner the flow was configured with.
        new._origin = self._origin or self
        return new

    @property
    def client(self) -> distributed.Client:
        """The `distributed.Client` of a started runner (inside a worker: the worker's)."""
        if self._in_worker:
            return distributed.get_client()
        if self._client is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._client

    # -- start and shutdown ------------------------------------------------------------------

    def _start(self) -> None:
        quiet_interrupted_sync()
        self._raise_log_levels()
        try:
            if self.address is None:
                self._client = self._start_temporary_cluster()
            else:
                logger.info("Connecting to an existing Dask cluster at %s", self.address)
                self._client = self._connect(self.address)
                # The flow run starting this runner (each flow run starts its own copy).
                flow_run_id = taskloom.context.get("flow_run_id")
                self._stop_forwarding = forward_worker_logs(self._client, {flow_run_id})
            if self.performance_report_path is not None:
                report = PerformanceReport(self._client, self.performance_report_path)
                report.start()
                self._report = report
        except BaseException:
            self._shutdown()
            raise

    def _start_temporary_cluster(self) -> distributed.Client:
        factory = _cluster.resolve_cluster_class(self.cluster_class)
        kwargs = _cluster.cluster_arguments(factory, self.cluster_kwargs, self.debug)
        if _cluster.uses_processes(factory, kwargs):
            check_main_guard(self.name)
            # The cluster's worker processes, started now or later, skip the script: the
            # seeds' scripts run their flow at the top level, and every nanny would pay the
            # script's imports before its worker starts.
            self._restore_main = keep_main_out_of_spawned_workers()
        logger.info("Creating a new Dask cluster with `%s`", _cluster.describe(factory))
        self._cluster = _cluster.create_cluster(factory, kwargs, self.adapt_kwargs)
        link = getattr(self._cluster, "dashboard_link", None)
        if link:
            logger.info("The Dask dashboard is available at %s", link)
        try:
            return distributed.Client(self._cluster, **self.client_kwargs)
        except Exception as exc:
            raise TaskRunnerError(
                f"Connecting to the new Dask cluster failed: {type(exc).__name__}: {exc}"
            ) from exc

    def _connect(self, address: str) -> distributed.Client:
        kwargs = dict(self.client_kwargs)
        kwargs.setdefault("timeout", CONNECT_TIMEOUT_SECONDS)
        missing = missing_tls_credentials(address, kwargs.get("security"))
        if missing:
            # Said here, not by dask's TypeError from deep in its transport layer.
            raise TaskRunnerError(missing)
        try:
            return distributed.Client(address, **kwargs)
        except Exception as exc:
            raise TaskRunnerError(
                f"Could not connect to the Dask scheduler at {address!r}: "
                f"{type(exc).__name__}: {exc}{reset_hint(address, exc)}"
            ) from exc

    def _cancel(self) -> None:
        # Queued runs are dropped and every run's future ends `Cancelled` at once; a run
        # already running goes on where it is (Dask cannot stop a running task): on a cluster
        # we do not own it finishes there, a temporary cluster's `_shutdown` stops it with
        # its worker.
        client, held = self._client, list(self._held)
        if self._cluster is not None:
            # Its scheduler (in this process) would log each cancelled key, and each running
            # task lost with its worker, some at CRITICAL: the flow run says it was cancelled.
            self._set_log_levels(logging.CRITICAL + 1)
        if client is not None and held:
            try:
                client.cancel(held)
            except Exception as exc:
                logger.debug("Cancelling the flow run's Dask futures failed: %s", exc)

    def _shutdown(self) -> None:
        client, self._client = self._client, None
        cluster, self._cluster = self._cluster, None
        stop_forwarding, self._stop_forwarding = self._stop_forwarding, None
        if stop_forwarding is not None:
            with contextlib.suppress(Exception):  # a client already gone takes it with it
                stop_forwarding()
        # Closing the client releases every key it holds on the scheduler at once.
        self._held = []
        self._pickled_tasks.clear()
        try:
            if self._report is not None:
                report, self._report = self._report, None
                self.performance_report = report.finish()
                if self._origin is not None:
                    self._origin.performance_report = self.performance_report
        finally:
            try:
                if client is not None:
                    client.close()
            finally:
                if cluster is not None:
                    cluster.close()
                restore_main, self._restore_main = self._restore_main, None
                if restore_main is not None:
                    restore_main()
                self._restore_log_levels()

    def _raise_log_levels(self) -> None:
        if self.debug:
            self._set_log_levels(logging.DEBUG)

    def _set_log_levels(self, level: int) -> None:
        """Set dask's loggers to `level` until shutdown (which restores their own)."""
        for name in _DASK_LOGGERS:
            dask_logger = logging.getLogger(name)
            self._log_levels.setdefault(name, dask_logger.level)
            dask_logger.setLevel(level)

    def _restore_log_levels(self) -> None:
        for name, level in self._log_levels.items():
            logging.getLogger(name).setLevel(level)
        self._log_levels.clear()

    # -- submitting ---------------------------------------------------------------------------

    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        if not self._in_worker and self._client is None:
            raise RuntimeError(f"{self.name} was used before it was started or after shutdown")
        try:
            dask_future = self._submit_to_dask(call, upstream)
        except _UpstreamNotCompletedError as blocked:
            return FinishedFuture(call, call.finish(call.not_ready(blocked.task_run_name)))
        except Exception as exc:
            state = Failed(
                f"Task run {call.task_run_name!r} could not be sent to the Dask cluster: "
                f"{why_unsendable(call, exc)}",
                data=exc,
            )
            return FinishedFuture(call, call.finish(state))
        return DaskFuture(call, self._submit_to_dask, dask_future, upstream)

    def submit_batch(self, calls: Sequence[TaskCall]) -> list[TaskloomFuture]:
        if not self._in_worker and self._client is None:
            raise RuntimeError(f"{self.name} was used before it was started or after shutdown")
        try:
            dask_future = self.client.submit(
                run_task_batch,
                self._pickled_task(calls[0].task),
                dumps_calls(calls),
                key=dask_key(calls[0]),
                pure=False,
                **submit_options(calls[0].tags),
            )
        except Exception:
            # Some call cannot be pickled: on their own, the others still run.
            return [self.submit(call, ()) for call in calls]
        if not self._in_worker:
            self._held.append(dask_future)
        batch = DaskBatch(dask_future)
        return [DaskBatchFuture(call, batch, index) for index, call in enumerate(calls)]

    @property
    def parallelism(self) -> int:
        """The cluster's worker threads, as the scheduler last reported them."""
        try:
            workers = self.client.scheduler_info().get("workers", {})
        except Exception:
            return super().parallelism
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))

    def _pickled_task(self, task: Any) -> bytes:
        pickled = self._pickled_tasks.get(task)
        if pickled is None:
            pickled = self._pickled_tasks[task] = dumps_task(task)
        return pickled

    def _submit_to_dask(
        self, call: TaskCall, upstream: Sequence[TaskloomFuture]
    ) -> distributed.Future:  # type: ignore[type-arg]
        client = self.client
        dependencies = [_as_dask_argument(future, client) for future in upstream]
        dask_future = client.submit(
            run_task_call,
            self._pickled_task(call.task),
            dumps_call(call),
            *dependencies,
            key=dask_key(call),
            pure=False,
            **submit_options(call.tags),
        )
        if not self._in_worker:
            self._held.append(dask_future)
        return dask_future

    def __copy__(self) -> Self:
        return self.duplicate()

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        # Pickling gives the worker-side form (see `__reduce__`); a copy is a configured twin.
        return self.duplicate()

    def __reduce__(self) -> tuple[Any, ...]:
        if not self._started:
            return (_unpickled, (self.options,))
        # A started runner travels with each task call; inside a worker it submits through the
        # worker's own client. Its options travel as bytes, each on its own: one that does not
        # pickle (a cluster factory closing over live objects) or that a worker cannot load (a
        # cluster class it cannot import) is left out, and that worker's runner submits just
        # the same. Pickled once per runner and unpickled once per worker: per call, the
        # cloudpickle round trips cost several times a trivial run.
        if self._worker_form is None:
            pickled = {}
            for name, value in self.options.items():
                with contextlib.suppress(Exception):
                    pickled[name] = cloudpickle.dumps(value)
            self._worker_form = pickle.dumps(pickled, protocol=pickle.HIGHEST_PROTOCOL)
        return (_worker_side_runner, (self._worker_form,))


class _UpstreamNotCompletedError(Exception):
    def __init__(self, task_run_name: str) -> None:
        super().__init__(task_run_name)
        self.task_run_name = task_run_name


def _as_dask_argument(future: TaskloomFuture, client: distributed.Client) -> Any:
    """What Dask receives for an upstream run: its Dask future, or (for a run that never
    reached the cluster) its value."""
    if isinstance(future, DaskFuture):
        return future._dask
    if isinstance(future, DaskBatchFuture):
        return future.as_dask_argument(client)
    state = future.wait()
    assert state is not None
    if not state.is_completed():
        raise _UpstreamNotCompletedError(future.task_run_name)
    return state.data


def _mapping(name: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict; got {value!r}")
    return dict(value)


#: In a worker: the runner of each configuration task calls arrived with, by its pickled form.
_worker_runners: dict[bytes, DaskTaskRunner] = {}


def _unpickled(options: dict[str, Any]) -> DaskTaskRunner:
    return DaskTaskRunner(**options)


def _worker_side_runner(form: bytes) -> DaskTaskRunner:
    """The runner task calls unpickled in this process submit through: one per process and
    configuration."""
    runner = _worker_runners.get(form)
    if runner is not None:
        return runner
    options = {}
    for name, value in pickle.loads(form).items():
        with contextlib.suppress(Exception):
            options[name] = cloudpickle.loads(value)
    try:
        runner = DaskTaskRunner(**options)
    except Exception:
        runner = DaskTaskRunner()
    runner._in_worker = True
    runner._started = True
    return _worker_runners.setdefault(form, runner)


__all__ = ["DaskTaskRunner"]
