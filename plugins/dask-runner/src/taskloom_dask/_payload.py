"""A task run as Dask carries it: pickled once in the flow's process, unpickled once in a worker.

Handed to `Client.submit` as bytes, a call is opaque to the scheduler, which would otherwise
unpickle and pickle it again on its way to a worker. Its task travels beside it, pickled once
per runner: a task defined in a script is pickled by value, which for thousands of runs would
cost more than the runs.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import cloudpickle

if TYPE_CHECKING:
    from taskloom.task_runners import TaskCall

_TASK = "task"


class _CallPickler(cloudpickle.CloudPickler):  # type: ignore[misc]
    """Pickles a call with a reference to its task, which travels separately."""

    def __init__(self, file: io.BytesIO, task: Any) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._task = task

    def persistent_id(self, obj: Any) -> str | None:
        return _TASK if obj is self._task else None


def dumps_task(task: Any) -> bytes:
    return cloudpickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL)  # type: ignore[no-any-return]


def dumps_call(call: TaskCall) -> bytes:
    """The call pickled without its task."""
    buffer = io.BytesIO()
    _CallPickler(buffer, call.task).dump(call)
    return buffer.getvalue()


def dumps_calls(calls: Sequence[TaskCall]) -> bytes:
    """The calls of a batch (all of one task) pickled together, without their task."""
    buffer = io.BytesIO()
    _CallPickler(buffer, calls[0].task).dump(list(calls))
    return buffer.getvalue()


# In a worker: tasks already unpickled, by their pickled bytes.
_tasks: dict[bytes, Any] = {}
_MAX_TASKS = 1024


def loads_call(task: bytes, payload: bytes) -> Any:
    """The call `dumps_call` (or the calls `dumps_calls`) pickled, with the task `dumps_task`
    pickled."""
    loaded = _tasks.get(task)
    if loaded is None:
        if len(_tasks) >= _MAX_TASKS:
            _tasks.clear()
        loaded = _tasks[task] = cloudpickle.loads(task)
    unpickler = pickle.Unpickler(io.BytesIO(payload))
    unpickler.persistent_load = lambda _: loaded  # type: ignore[method-assign]
    return unpickler.load()
