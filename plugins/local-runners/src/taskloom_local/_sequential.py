"""The sequential runner: every task run, sync or async, inline and in submission order."""

from __future__ import annotations

from collections.abc import Sequence

from taskloom.futures import FinishedFuture, TaskloomFuture
from taskloom.task_runners import TaskCall, TaskRunner


class SequentialTaskRunner(TaskRunner):
    """Runs each task run to completion, in the submitting thread, before `submit` returns.

    The simplest runner and the cheapest per task: useful for debugging, for flows with no
    parallelism to exploit, and wherever tasks must not overlap.
    """

    runs_at_submission = True

    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        states = [future.wait() for future in upstream] if upstream else ()
        return FinishedFuture(call, call.run(states))  # type: ignore[arg-type]
