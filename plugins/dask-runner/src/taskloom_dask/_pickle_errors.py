"""Saying which argument kept a task run from being sent to another process."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from taskloom.task_runners import TaskCall


def why_unsendable(call: TaskCall, exc: BaseException) -> str:
    """Which argument of `call` cannot be pickled, and why; else the error itself."""
    import cloudpickle

    for where, value in [
        *((f"argument {i}", v) for i, v in enumerate(call.args)),
        *((f"argument {name!r}", v) for name, v in call.kwargs.items()),
    ]:
        try:
            cloudpickle.dumps(value)
        except Exception as error:
            return f"{where} cannot be pickled ({type(error).__name__}: {error})"
    return f"{type(exc).__name__}: {exc}"
