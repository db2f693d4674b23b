"""What crosses into a worker process and back: pickled calls and pickled states."""

from __future__ import annotations

from typing import Any

import cloudpickle

from taskloom.states import Failed
from taskloom.task_runners import TaskCall


def run_pickled(payload: bytes) -> bytes:
    """Run a pickled `(call, upstream states)` in this worker; return its pickled final state."""
    call, states = cloudpickle.loads(payload)
    state = call.run(states)
    try:
        return cloudpickle.dumps(state)  # type: ignore[no-any-return]
    except Exception as exc:
        return cloudpickle.dumps(  # type: ignore[no-any-return]
            Failed(
                f"Task run {call.task_run_name!r} returned a value that cannot be sent back to "
                f"the flow's process: {type(exc).__name__}: {exc}"
            )
        )


def describe_unpicklable(call: TaskCall, exc: Exception) -> str:
    """Say which argument of `call` cannot be pickled, and why."""
    culprits = [f"argument {i}" for i, value in enumerate(call.args) if not _picklable(value)]
    culprits += [f"argument {name!r}" for name, value in call.kwargs.items() if not _picklable(value)]
    where = ", ".join(culprits) if culprits else "the task itself"
    return f"{where} cannot be pickled ({type(exc).__name__}: {exc})"


def _picklable(value: Any) -> bool:
    try:
        cloudpickle.dumps(value)
    except Exception:
        return False
    return True
