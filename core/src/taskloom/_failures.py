"""A failed flow run's exception, told in terms of the task runs that failed.

The exception a flow run raises is often not the one that went wrong first: a task reading an
upstream's result raises `UpstreamTaskError`, a flow that returns many states raises the first
failure's own exception without saying whose it was. So a failed flow run's exception gets the
first failed task run's exception as its `__cause__` (unless it has one or is that exception)
and a note naming that run and listing the failed task runs (the first `LISTED`, then a count).
The state's message stays as the contract words it (`'N/M states failed.'`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from taskloom.states import State

if TYPE_CHECKING:
    from taskloom.futures import TaskloomFuture

#: How many failed task runs a flow run's state names before it counts the rest.
LISTED = 10


def explain_failure(state: State, futures: Sequence[TaskloomFuture]) -> None:
    """Annotate the exception of `state` (a flow run's, not completed) with what its failed task
    runs (in the order they were submitted; `NotReady` and cancelled ones left out) tell: see
    the module's docstring."""
    raised = state.data if isinstance(state.data, BaseException) else None
    if raised is None:
        return
    failed = [f for f in futures if _failed(f.state)]
    if not failed:
        return
    first = failed[0]
    first_error = first.state.exception()
    if raised is first_error:
        note = f"Raised by task run {first.task_run_name!r}."
    else:
        if raised.__cause__ is None and not raised.__suppress_context__:
            raised.__cause__ = first_error
        note = (
            f"The first task run that failed: {first.task_run_name!r} "
            f"({type(first_error).__name__}: {first_error})."
        )
    if len(failed) > 1:
        names = ", ".join(repr(f.task_run_name) for f in failed[:LISTED])
        if len(failed) > LISTED:
            names += f" and {len(failed) - LISTED} more"
        note += f" Failed task runs: {names}."
    # A subflow's failure reaches its parent with the same exception: one note is enough.
    if note not in getattr(raised, "__notes__", ()):
        raised.add_note(note)


def _failed(state: State) -> bool:
    return state.is_failed() or state.is_crashed()
