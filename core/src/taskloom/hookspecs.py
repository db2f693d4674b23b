"""The hooks taskloom calls, and the markers plugins use to implement them.

Runner steps are `firstresult` hooks: the core's default implementation (registered like any
other plugin) hands each step to the runner object, and a plugin wraps a step with a
`wrapper=True` implementation to time, trace or adjust it. Run start and finish are plain
notifications. When no plugin implements a hook beyond the defaults, the engine calls the
runner directly: the hook layer costs nothing on the per-task path until it is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from taskloom._task_call import TaskCall
    from taskloom._toolkit.runner import TaskRunner
    from taskloom.futures import TaskloomFuture
    from taskloom.states import State

hookspec = pluggy.HookspecMarker("taskloom")
hookimpl = pluggy.HookimplMarker("taskloom")


@dataclass(frozen=True)
class FlowRunInfo:
    """What hooks are told about a flow run."""

    name: str
    flow_name: str
    task_runner: TaskRunner
    parent: FlowRunInfo | None = field(default=None, repr=False)


@hookspec(firstresult=True)
def taskloom_resolve_task_runner(spec: str) -> TaskRunner | None:
    """Claim a `task_runner=` string that names no registered runner, such as an address.

    Called when a flow is defined with a string (or `TASKLOOM_TASK_RUNNER` holds one) that is not
    a runner name, class name or import path. Return a configured, unstarted runner to claim it
    (`"tcp://host:8786"` → a Dask runner for that scheduler), or None to leave it to others.
    """


@hookspec
def taskloom_address_schemes() -> list[str]:
    """The address schemes this plugin's `taskloom_resolve_task_runner` claims, its main one
    first (`["tcp://", "tls://", "dask://"]`).

    Called only to word the error for an address no plugin claimed (`"http://host"`): it lists
    every plugin's schemes and suggests the address under each main one.
    """
    return []


@hookspec(firstresult=True)
def taskloom_runner_start(runner: TaskRunner) -> bool | None:
    """Start `runner` at the beginning of a flow run; return True once it is started."""


@hookspec(firstresult=True)
def taskloom_runner_submit(
    runner: TaskRunner, call: TaskCall, upstream: Sequence[TaskloomFuture]
) -> TaskloomFuture | None:
    """Submit one task run to `runner` and return its future.

    Called for every `task(...)`, `task.submit(...)` and element of `task.map(...)`, after the
    engine replaced futures in the arguments by placeholders; `upstream` are the futures the
    call waits for, in the order of `call.upstream_names`. A run that takes a run of another
    runner not final yet is submitted once that run is, from one of the engine's submitting
    threads rather than the flow's.
    """


@hookspec(firstresult=True)
def taskloom_runner_submit_batch(
    runner: TaskRunner, calls: Sequence[TaskCall]
) -> list[TaskloomFuture] | None:
    """Submit a batch of task runs of one `task.map(..., batch_size=k)` to `runner`; return
    their futures, in order.

    Called instead of `taskloom_runner_submit` for the elements of a batched map that wait for
    no run, `k` at a time (the last batch may be shorter).
    """


@hookspec(firstresult=True)
def taskloom_runner_wait(
    runner: TaskRunner, future: TaskloomFuture, timeout: float | None
) -> State | None:
    """Wait at most `timeout` seconds for a future of `runner`; return its final state.

    Called from `future.wait()` and `future.result()` and when a flow run collects its task runs
    at the end, until the future has its final state: a run that finished at submission (an
    inline runner, a `NotReady` run) or was waited for once is not waited for again. None means
    the run is not final yet. For a run waiting for another runner's run, `future` stands for
    the run before it goes to `runner` (it is not one of `runner`'s own futures).
    """


@hookspec(firstresult=True)
def taskloom_runner_shutdown(runner: TaskRunner) -> bool | None:
    """Shut `runner` down at the end of a flow run, also when it failed or was interrupted;
    return True once it is shut down."""


@hookspec
def taskloom_flow_run_started(flow_run: FlowRunInfo) -> None:
    """Notification that a flow run (or subflow run) began, before its runner starts."""


@hookspec
def taskloom_flow_run_finished(flow_run: FlowRunInfo, state: State) -> None:
    """Notification that a flow run ended in `state`, after its runner shut down."""


@hookspec
def taskloom_task_run_submitted(flow_run: FlowRunInfo, call: TaskCall) -> None:
    """Notification, in the flow's process, that a task run is about to be submitted."""


@hookspec
def taskloom_task_run_finished(flow_run: FlowRunInfo, call: TaskCall, state: State) -> None:
    """Notification, in the flow's process, that the engine saw a task run's final state."""


@hookspec
def taskloom_task_run_future(flow_run: FlowRunInfo, future: TaskloomFuture) -> None:
    """Notification, in the flow's process, that a task run was handed to its runner: `future`
    is its future (`future.call` the call). Called once per task run, batched map elements
    included, right after submission, from the thread that submitted it (for a run waiting for
    another runner's run, when it begins to wait: `future` then stands for it throughout).

    For a plugin that follows runs as they end, whether or not the flow reads them: add a
    callback with `future.add_done_callback`. It may run in an engine's own thread (Dask's
    event loop, a pool's manager thread), so it must not block: note the future there and
    read its state elsewhere (`future.state`). Only called while some plugin implements it.
    """
