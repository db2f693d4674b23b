"""What crosses into a worker process and back: pickled calls and pickled states."""

from __future__ import annotations

import io
import pickle
from typing import Any

import cloudpickle

from taskloom.states import Failed, State
from taskloom.task_runners import PLAIN_TYPES, TaskCall, all_plain, loads_flow_run


# cloudpickle ships no types: its pickler is `Any` to mypy, which strict mode will not subclass.
class CallPickler(cloudpickle.CloudPickler):  # type: ignore[misc]
    """Pickles a call without its task, which travels separately, pickled once per task.

    A task defined in a script is pickled by value: doing that for each of thousands of runs
    would cost more than the runs.
    """

    def __init__(self, file: io.BytesIO, task: Any) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._task = task

    def persistent_id(self, obj: Any) -> str | None:
        return "task" if obj is self._task else None


def dumps_call(call: TaskCall | list[TaskCall], states: list[Any]) -> bytes:
    """`(call, states)` pickled with `CallPickler` (or the calls of a batch, all of one task,
    which wait for no run)."""
    buffer = io.BytesIO()
    task = call[0].task if isinstance(call, list) else call.task
    CallPickler(buffer, task).dump((call, states))
    return buffer.getvalue()


def dumps_plain_fields(call: TaskCall, states: list[Any]) -> bytes | None:
    """The fields of a call that waits for no run and has plain arguments only, pickled.

    Plain pickle, not cloudpickle: setting up a cloudpickle pickler costs more than a trivial
    run. The task and the flow run travel beside these fields, each pickled once.
    None for any other call.
    """
    if states or not (all_plain(call.args) and all_plain(call.kwargs.values())):
        return None
    return pickle.dumps(call.fields(), protocol=pickle.HIGHEST_PROTOCOL)


class WorkerCall(TaskCall):
    """A task call as it runs in a worker process: it logs how it finished only once its state
    is pickled for the flow's process (`_dumps_state`), so a result that cannot travel back is
    logged as the `Failed` it becomes, not as the `Completed` it was in the worker."""

    __slots__ = ()

    logs_final_state = False


def _in_worker(call: TaskCall) -> TaskCall:
    call.__class__ = WorkerCall  # same slots: only `logs_final_state` differs
    return call


# In a worker process: tasks already unpickled, by their pickled bytes.
_tasks: dict[bytes, Any] = {}


def _task(pickled: bytes) -> Any:
    task = _tasks.get(pickled)
    if task is None:
        task = _tasks[pickled] = cloudpickle.loads(pickled)
    return task


def _loads_call(task: bytes, payload: bytes) -> Any:
    """What `dumps_call` pickled, its task unpickled once per worker process."""
    loaded = _task(task)
    unpickler = pickle.Unpickler(io.BytesIO(payload))
    unpickler.persistent_load = lambda _: loaded  # type: ignore[method-assign]
    return unpickler.load()


def _plain_call(task: Any, flow_run: Any, fields: bytes) -> TaskCall:
    """The call `dumps_plain_fields` pickled, with its task and flow run unpickled."""
    return WorkerCall.from_fields(task, pickle.loads(fields), flow_run)


def run_pickled(task: bytes, payload: bytes) -> bytes:
    """Run a pickled call in this worker process; return its pickled final state."""
    call, states = _loads_call(task, payload)
    call = _in_worker(call)
    return _dumps_state(call, call.run(states))


def run_plain_fields(task: bytes, flow_run: bytes, fields: bytes) -> bytes:
    """Run the call of `dumps_plain_fields` in this worker process; return its pickled state."""
    call = _plain_call(_task(task), loads_flow_run(flow_run), fields)
    return _dumps_state(call, call.run())


def run_pickled_batch(task: bytes, payload: bytes) -> list[bytes]:
    """Run the pickled calls of a batch one after another; return their pickled states."""
    calls, _ = _loads_call(task, payload)
    return [_dumps_state(call, call.run()) for call in map(_in_worker, calls)]


def run_plain_batch(task: bytes, flow_run: bytes, batch: list[bytes]) -> bytes | list[bytes]:
    """Run the calls of a batch given as `dumps_plain_fields`; return their states pickled
    together when every value is plain (one `pickle` for the batch), else each on its own."""
    loaded, handle = _task(task), loads_flow_run(flow_run)
    calls = [_plain_call(loaded, handle, fields) for fields in batch]
    states = [call.run() for call in calls]
    if all(type(state.data) in PLAIN_TYPES for state in states):
        for call, state in zip(calls, states, strict=True):
            call.log_final(state)
        return pickle.dumps(states, protocol=pickle.HIGHEST_PROTOCOL)
    return [_dumps_state(call, state) for call, state in zip(calls, states, strict=True)]


def _dumps_state(call: TaskCall, state: State) -> bytes:
    """`state` pickled for the flow's process, or the `Failed` state saying why it cannot be;
    logged as the state that travels."""
    if type(state.data) in PLAIN_TYPES:
        call.log_final(state)
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        pickled: bytes = cloudpickle.dumps(state)
    except Exception as exc:
        state = Failed(
            f"Task run {call.task_run_name!r} returned a value that cannot be sent back to "
            f"the flow's process: {type(exc).__name__}: {exc}"
        )
        pickled = cloudpickle.dumps(state)
    call.log_final(state)
    return pickled


def describe_unpicklable(call: TaskCall, exc: Exception) -> str:
    """Say which argument of `call` cannot be pickled, and why."""
    culprits = [f"argument {i}" for i, value in enumerate(call.args) if not _picklable(value)]
    culprits += [
        f"argument {name!r}" for name, value in call.kwargs.items() if not _picklable(value)
    ]
    where = ", ".join(culprits) if culprits else "the task itself"
    return f"{where} cannot be pickled ({type(exc).__name__}: {exc})"


def _picklable(value: Any) -> bool:
    try:
        cloudpickle.dumps(value)
    except Exception:
        return False
    return True
