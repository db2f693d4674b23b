"""A minimal runner for the suite's own needs (the core ships no runner)."""

from __future__ import annotations

from collections.abc import Sequence

from taskloom.futures import FinishedFuture, TaskloomFuture
from taskloom.task_runners import TaskCall, TaskRunner


class InlineTaskRunner(TaskRunner):
    """Runs each call in the submitting thread: the smallest complete runner."""

    runs_at_submission = True

    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        return FinishedFuture(call, call.run([future.wait() for future in upstream]))  # type: ignore[misc]
