"""What runs in a Ray worker: one Ray remote function per task, running one task run per call.

Each task gets its own remote function, so Ray ships the task's code to the workers once; a
run then only carries its arguments. The function returns two objects: a tiny marker, which
tells the flow that the run completed, and the run's value, which stays in Ray's object store
until something needs it (a dependent task, or `result()` in the flow). A run that does not
complete raises `TaskRunFailure`: Ray then skips its dependents and hands them that error.

The line saying how a run finished is logged where the run's future learns it, normally in the
flow's process (see `WorkerCall`), right after the lines the run logged itself: those travel
back with the outcome rather than through Ray's log pipeline, which would deliver them later.
"""

from __future__ import annotations

import pickle
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from taskloom.exceptions import TaskRunFailure
from taskloom.task_runners import (
    PLAIN_TYPES,
    CallFields,
    PortableRecord,
    TaskCall,
    all_plain,
    captured_log_records,
    loads_flow_run,
    run_batch,
)
from taskloom_ray import _session

if TYPE_CHECKING:
    from taskloom import Task

#: What the marker object of a completed run holds when the run logged nothing; one that
#: logged holds its records instead (see `captured_log_records`), and a run that did not
#: complete carries them on its `TaskRunFailure` (`log_records`).
COMPLETED = True

# A call's fields besides its task (`TaskCall.fields()`), and its flow run pickled.
RemoteFields = tuple[CallFields, bytes]
# A batch's flow run pickled, and the fields of each of its calls.
BatchFields = tuple[bytes, list[CallFields]]

_lock = threading.Lock()
# Remote functions made for an earlier connection (a Ray Client one, say) are not reused.
_functions: weakref.WeakKeyDictionary[Task[..., Any], dict[Any, tuple[int, Any]]] = (
    weakref.WeakKeyDictionary()
)
_batch_functions: weakref.WeakKeyDictionary[Task[..., Any], dict[Any, tuple[int, Any]]] = (
    weakref.WeakKeyDictionary()
)
_element: tuple[int, Any] | None = None


class WorkerCall(TaskCall):
    """A task call as it runs in a Ray worker: it does not log how it finished.

    Ray copies what workers write to the flow's console through its log pipeline (files, a
    log monitor, the GCS, the driver), which costs more CPU per line than a trivial task run
    itself; the flow's process logs the line instead, in its own format, when the run's
    future learns the final state, after the lines the run logged (which come back with its
    outcome). What a task prints, or logs outside `taskloom`, still comes through Ray.
    """

    __slots__ = ()

    logs_final_state = False


#: Options for `ray.remote(...)` (see `_options.REMOTE_ONLY`), as `split_options` keys them.
RemoteOnly = tuple[tuple[str, Any], ...]


def remote_function(task: Task[..., Any], remote_only: RemoteOnly = ()) -> Any:
    """The Ray remote function that runs `task`, made once per task, connection and set of
    `ray.remote`-only options."""
    return _cached(_functions, task, remote_only, _make_remote_function)


def batch_function(task: Task[..., Any], remote_only: RemoteOnly = ()) -> Any:
    """The Ray remote function that runs a batch of calls of `task` (see `run_batch`)."""
    return _cached(_batch_functions, task, remote_only, _make_batch_function)


def _cached(
    functions: weakref.WeakKeyDictionary[Task[..., Any], dict[RemoteOnly, tuple[int, Any]]],
    task: Task[..., Any],
    remote_only: RemoteOnly,
    make: Any,
) -> Any:
    generation = _session.generation
    entry = functions.get(task, {}).get(remote_only)
    if entry is not None and entry[0] == generation:
        return entry[1]
    with _lock:
        made = functions.setdefault(task, {})
        entry = made.get(remote_only)
        if entry is None or entry[0] != generation:
            entry = (generation, make(task, dict(remote_only)))
            made[remote_only] = entry
    return entry[1]


def element_function() -> Any:
    """The Ray remote function that takes one call's marker and value out of a batch's
    outcomes, for a task that takes that call's future: a call that did not complete raises
    its failure, so Ray skips the tasks that take it."""
    global _element
    generation = _session.generation
    if _element is None or _element[0] != generation:
        import ray

        def element(batch: tuple[list[Any], Any], index: int) -> tuple[bool, Any]:
            outcome = batch[0][index]
            if isinstance(outcome, TaskRunFailure):
                raise outcome
            return COMPLETED, outcome

        _element = (generation, ray.remote(num_returns=2, max_retries=0)(element))
    return _element[1]


def _make_remote_function(task: Task[..., Any], remote_only: dict[str, Any]) -> Any:
    import ray

    def run(fields: RemoteFields | bytes, *upstream: Any) -> tuple[Any, Any]:
        # `upstream` holds the values of the runs this one takes as arguments, then the
        # markers of those it only waits for: Ray resolved both before calling.
        unpacked: RemoteFields = pickle.loads(fields) if isinstance(fields, bytes) else fields
        call_fields, flow_run = unpacked
        call = WorkerCall.from_fields(task, call_fields, loads_flow_run(flow_run))
        with captured_log_records() as records:
            try:
                value = call.run_for_engine(*upstream)
            except TaskRunFailure as failure:
                failure.log_records = records
                raise
        return records or COMPLETED, value

    # Ray names the runs (in its logs and dashboard) after the function: after the task. (The
    # `name=` option would do too, at a cost per run.) Cloudpickle still ships the function by
    # value, as it finds no module attribute that is this very function.
    run.__name__ = run.__qualname__ = task.name
    # Ray may not run a task again after its worker died unless `remote_options` say so: the
    # run then ends `Crashed`, as it would on any runner.
    return ray.remote(num_returns=2, max_retries=0, **remote_only)(run)


def _make_batch_function(task: Task[..., Any], remote_only: dict[str, Any]) -> Any:
    import ray

    def run(fields: BatchFields) -> tuple[list[Any], list[PortableRecord]]:
        flow_run, calls = fields
        handle = loads_flow_run(flow_run)
        with captured_log_records() as records:
            outcomes = run_batch([WorkerCall.from_fields(task, call, handle) for call in calls])
        return outcomes, records

    run.__name__ = run.__qualname__ = f"{task.name}-batch"
    return ray.remote(max_retries=0, **remote_only)(run)


def batch_fields(calls: Sequence[TaskCall], flow_run: bytes) -> BatchFields:
    """What a batch's function needs besides the task to rebuild its calls in a worker (Ray
    serializes it: one object for the whole batch)."""
    fields = [call.fields() for call in calls]
    return flow_run, fields


def call_fields(call: TaskCall, flow_run: bytes) -> RemoteFields | bytes:
    """What `run` needs besides the task to rebuild `call` in a worker.

    Pickled here when the arguments are plain scalars: Ray serializes a tuple of them through
    msgpack and then cloudpickle, which costs a trivial run more than the run itself. Anything
    else (bytes, containers, arrays, the placeholders of upstream values) is left to Ray, which
    moves large buffers without copying them: unlike the toolkit's `PLAIN_TYPES`, bytes are not
    pickled here.
    """
    fields = (call.fields(), flow_run)
    kwargs = call.kwargs
    if all_plain(call.args, _PICKLED_HERE) and (
        not kwargs or all_plain(kwargs.values(), _PICKLED_HERE)
    ):
        return pickle.dumps(fields, protocol=pickle.HIGHEST_PROTOCOL)
    return fields


# Bytes are left to Ray, which moves large buffers without copying them.
_PICKLED_HERE = PLAIN_TYPES - {bytes}
