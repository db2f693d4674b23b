"""The Ray task runner."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from taskloom.futures import FinishedFuture, TaskloomFuture
from taskloom.states import Failed
from taskloom.task_runners import TaskCall, TaskRunner, dumps_flow_run
from taskloom_ray import _session
from taskloom_ray._options import current_options, split_options

if TYPE_CHECKING:
    from typing import Self

    from taskloom_ray._batch_future import RayBatchFuture
    from taskloom_ray._futures import RayFuture


class RayTaskRunner(TaskRunner):
    """Runs task runs as Ray tasks: on a temporary local Ray, or on an existing Ray cluster.

    With no `address`, a local Ray instance is started when the flow run begins and shut down
    when it ends; it listens on 127.0.0.1 only. If Ray is already initialised in the process,
    that Ray is used and left running. `address="ray://host:10001"` connects to an existing
    cluster through Ray Client (the cluster keeps running afterwards); a cluster that uses
    Ray's token authentication takes its token from the environment, as Ray does
    (`RAY_AUTH_MODE=token` and `RAY_AUTH_TOKEN` or `RAY_AUTH_TOKEN_PATH`). `init_kwargs` are
    passed to `ray.init` (`num_cpus`, `runtime_env`, ...).

    A future passed to a dependent task travels as Ray's own object reference: the value goes
    from worker to worker through Ray's object store, never through the flow's process, which
    learns each run's final state from a tiny marker object. `taskloom_ray.remote_options(...)`
    around submissions sets the Ray options (CPUs, GPUs, memory, custom resources, retries
    after a worker died) of the runs submitted inside it.
    """

    def __init__(
        self, address: str | None = None, init_kwargs: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__()
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise TypeError(
                f"address must be a Ray address such as 'ray://host:10001'; got {address!r}"
            )
        if init_kwargs is not None and not isinstance(init_kwargs, Mapping):
            raise TypeError(f"init_kwargs must be a mapping; got {init_kwargs!r}")
        if init_kwargs and "address" in init_kwargs:
            raise TypeError("give the address as RayTaskRunner(address=...), not in init_kwargs")
        self.address = address.strip() if address is not None else None
        self.init_kwargs: dict[str, Any] = dict(init_kwargs or {})
        self._joined = False
        # Set from the start of shutdown (or an interruption) on: no more submissions.
        self._closing = False
        self._cancelled = False
        # Markers of the runs this runner sent to Ray, for the drain at shutdown; None where the
        # runner does not keep them (in a worker, whose runs belong to the task that made them).
        self._submitted: list[Any] | None = None
        # The pickled handle of the flow run submitting here (one per flow run, normally).
        self._flow_run: tuple[Any, bytes] | None = None
        #: a runner unpickled inside a Ray task, submitting for it (see `_attached_runner`)
        self._in_worker = False

    def duplicate(self) -> Self:
        return type(self)(self.address, self.init_kwargs)

    def _start(self) -> None:
        self._closing = self._cancelled = False
        self._submitted = []
        self._joined = _session.join(self.address, self.init_kwargs)

    def _cancel(self) -> None:
        # Nobody will use the runs still queued or running: Ray drops the queued ones and stops
        # the running ones. (On a cluster too: a job's tasks end with its driver anyway, which
        # a Ray Client connection is.)
        self._closing = self._cancelled = True
        _session.cancel(self._submitted or [])

    def _shutdown(self) -> None:
        self._closing = True
        submitted, self._submitted = self._submitted or [], None
        self._flow_run = None
        try:
            _session.drain(submitted, _session.DRAIN_AFTER_CANCEL if self._cancelled else None)
        finally:
            if self._joined:
                self._joined = False
                _session.leave()

    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        if not self._started:
            raise RuntimeError(f"{self.name} was used before it was started or after shutdown")
        if self._closing:
            raise RuntimeError(f"{self.name} is shutting down: it takes no more task runs")
        ray_future, batch_future, remote = _engine_side()
        arguments: list[Any] = []
        n_data = call.n_data
        for index, future in enumerate(upstream):
            if isinstance(future, ray_future):
                arguments.append(future.value_ref if index < n_data else future.marker_ref)
                continue
            if isinstance(future, batch_future):
                marker_ref, value_ref = future.refs()
                arguments.append(value_ref if index < n_data else marker_ref)
                continue
            # A run that never reached Ray (the engine finished it in the flow's process).
            state = future.wait()
            assert state is not None
            if not state.is_completed():
                return FinishedFuture(call, call.finish(call.not_ready(future.task_run_name)))
            arguments.append(state.data if index < n_data else remote.COMPLETED)
        function = _with_options(remote.remote_function, call.task)
        try:
            marker, value = function.remote(
                remote.call_fields(call, self._handle(call)), *arguments
            )
        except Exception as exc:  # an argument Ray cannot serialize, most often
            state = Failed(
                f"Task run {call.task_run_name!r} could not be sent to Ray: "
                f"{type(exc).__name__}: {exc}",
                data=exc,
            )
            return FinishedFuture(call, call.finish(state))
        submitted = self._submitted
        if submitted is not None:
            submitted.append(marker)
        return ray_future(call, marker, value, upstream, in_worker=self._in_worker)

    def submit_batch(self, calls: Sequence[TaskCall]) -> list[TaskloomFuture]:
        if not self._started or self._closing:
            return [self.submit(call, ()) for call in calls]  # which says why not
        from taskloom_ray._batch_future import RayBatch, RayBatchFuture
        from taskloom_ray._remote import batch_fields, batch_function

        function = _with_options(batch_function, calls[0].task)
        try:
            ref = function.remote(batch_fields(calls, self._handle(calls[0])))
        except Exception:
            # Some call's arguments cannot be sent: on their own, the others still run.
            return [self.submit(call, ()) for call in calls]
        if self._submitted is not None:
            self._submitted.append(ref)
        batch = RayBatch(ref, self._in_worker)
        return [RayBatchFuture(call, batch, index) for index, call in enumerate(calls)]

    @property
    def parallelism(self) -> int:
        """The CPUs of the Ray cluster this runner submits to."""
        import ray

        try:
            resources = ray.cluster_resources()  # type: ignore[no-untyped-call]
            return max(1, int(resources.get("CPU", 1)))
        except Exception:
            return super().parallelism

    def _handle(self, call: TaskCall) -> bytes:
        """The pickled handle of the call's flow run (one per flow run, pickled once)."""
        handle = self._flow_run
        if handle is None or handle[0] is not call.flow_run:
            handle = self._flow_run = (call.flow_run, dumps_flow_run(call.flow_run))
        return handle[1]

    def __reduce__(self) -> tuple[Any, ...]:
        if not self._started:
            return (RayTaskRunner, (self.address, self.init_kwargs))
        # Unpickled in a Ray worker, a started runner submits to the Ray that worker belongs to.
        return (_attached_runner, (self.address, self.init_kwargs))


@functools.cache
def _engine_side() -> tuple[type[RayFuture], type[RayBatchFuture], ModuleType]:
    """What `submit` takes from the runner's modules that import Ray (`import taskloom_ray`
    does not), bound on the first submission: import statements in `submit` cost 3 µs a run."""
    from taskloom_ray import _remote
    from taskloom_ray._batch_future import RayBatchFuture
    from taskloom_ray._futures import RayFuture

    return RayFuture, RayBatchFuture, _remote


def _with_options(make: Callable[..., Any], task: Any) -> Any:
    """The remote function `make` gives for `task`, with the Ray options of the
    `remote_options` block around the submission: those Ray takes only in `ray.remote(...)`
    build the function, the others go to `.options()`."""
    remote_only, options = split_options(current_options())
    function = make(task, remote_only)
    return function.options(**options) if options else function


def _attached_runner(address: str | None, init_kwargs: dict[str, Any]) -> RayTaskRunner:
    """A started runner that uses the Ray this process is already part of and owns nothing."""
    runner = RayTaskRunner(address, init_kwargs)
    runner._started = True
    runner._in_worker = True
    return runner


__all__ = ["RayTaskRunner"]
