"""The errors taskloom raises, and the one it passes between processes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskloom.states import State

__all__ = [
    "CancelledRun",
    "CrashedRun",
    "FailedRun",
    "FlowInterrupted",
    "FlowTerminated",
    "MissingContextError",
    "TaskRunCancelled",
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


class CancelledRun(Exception):
    """Raised for a run that was cancelled (its flow run was) before it could finish."""


class UpstreamTaskError(Exception):
    """Raised for a task run that never ran because an upstream task run did not complete."""


class TaskRunFailure(Exception):
    """Carries a task run's final, non-completed state out of an engine that propagates errors.

    Engines such as Dask and Ray skip the dependents of a task that raised and hand them its
    error; the run name it holds tells a dependent's own failure apart from its upstream's.
    """

    #: The lines the run logged in its worker, for an engine that sends them back with the
    #: outcome (see `taskloom.task_runners.captured_log_records`); None where it does not.
    log_records: list[dict[str, Any]] | None = None

    def __init__(self, task_run_name: str, state: State) -> None:
        super().__init__(task_run_name, state)
        self.task_run_name = task_run_name
        self.state = state

    def __str__(self) -> str:
        return f"Task run {self.task_run_name!r} finished in state {self.state!r}"


class FlowInterrupted(KeyboardInterrupt):
    """The flow's process received SIGINT (Ctrl-C) during a flow run, which was cancelled."""


class FlowTerminated(SystemExit):
    """The flow's process received SIGTERM during a flow run, which was cancelled.

    A `SystemExit` with code 143 (128 + SIGTERM): uncaught, the process exits with that code
    and no traceback.
    """

    def __init__(self, message: str | None = None) -> None:
        super().__init__(143)
        self.message = message

    def __str__(self) -> str:
        return self.message or "SIGTERM"


class TaskRunCancelled(BaseException):
    """Raised inside a running task run by its runner to stop it: its flow run was cancelled.

    A `BaseException`, so that task code catching `Exception` does not swallow it. A runner
    that runs task calls on threads raises it in those threads (see
    `taskloom.task_runners.ThreadCalls`); the run then ends `Cancelled`.
    """


class TaskRunnerImportError(ImportError):
    """An installed task runner whose module fails to import; other runners are unaffected."""
