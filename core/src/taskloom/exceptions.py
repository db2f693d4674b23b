"""The errors taskloom raises, and the one it passes between processes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskloom.states import State

__all__ = [
    "CrashedRun",
    "FailedRun",
    "MissingContextError",
    "TaskRunFailure",
    "TaskRunnerError",
    "TaskRunnerImportError",
    "UnknownTaskRunnerError",
    "UpstreamTaskError",
]


class UnknownTaskRunnerError(LookupError):
    """A task runner string that no installed runner or plugin answers to."""


class TaskRunnerError(RuntimeError):
    """A task runner could not be started or used (its engine is unreachable, misconfigured...)."""


class MissingContextError(RuntimeError):
    """Something that needs a flow run was used outside of one."""


class FailedRun(Exception):
    """Raised for a failed run whose state carries no exception of its own."""


class CrashedRun(Exception):
    """Raised for a run that crashed: its worker died, or it raised a `BaseException`."""


class UpstreamTaskError(Exception):
    """Raised for a task run that never ran because an upstream task run did not complete."""


class TaskRunFailure(Exception):
    """Carries a task run's final, non-completed state out of an engine that propagates errors.

    Engines such as Dask and Ray skip the dependents of a task that raised and hand them its
    error; the run name it holds tells a dependent's own failure apart from its upstream's.
    """

    def __init__(self, task_run_name: str, state: State) -> None:
        super().__init__(task_run_name, state)
        self.task_run_name = task_run_name
        self.state = state

    def __str__(self) -> str:
        return f"Task run {self.task_run_name!r} finished in state {self.state!r}"


def exception_for_state(state: State) -> BaseException:
    """The exception that stands for a state that did not complete."""
    data: Any = state.data
    if isinstance(data, BaseException):
        if state.is_crashed() and not isinstance(data, Exception):
            # Raising the KeyboardInterrupt or SystemExit of a worker in the flow would stop the
            # caller for something that already ended elsewhere.
            return CrashedRun(state.message or repr(data))
        return data
    if state.is_crashed():
        return CrashedRun(state.message or "Run crashed.")
    if state.is_pending() and state.name == "NotReady":
        return UpstreamTaskError(state.message)
    return FailedRun(state.message or f"Run finished in state {state!r}")


class TaskRunnerImportError(ImportError):
    """An installed task runner whose module fails to import; other runners are unaffected."""
