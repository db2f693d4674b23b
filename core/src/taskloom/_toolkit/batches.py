"""Batched maps: many task calls of one `Task.map` sent to the engine as one engine task.

Each call in a batch is still a task run of its own: it runs through `TaskCall` (its retries,
timeout and log lines), and it ends in its own state, so a failure fails only its own element.
What the batch saves is the engine's cost per task: one submission, one scheduling decision,
one message each way, for `k` runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from taskloom.exceptions import TaskRunFailure

if TYPE_CHECKING:
    from taskloom._task_call import TaskCall
    from taskloom.states import State

#: `batch_size="auto"` gives every worker about this many batches of a map: enough that the
#: last batches to finish leave the others little idle time, few enough that the engine's cost
#: per task is paid once per batch.
BATCHES_PER_WORKER = 8

#: The largest batch `batch_size="auto"` makes: one batch's results travel together.
MAX_AUTO_BATCH = 1000


def auto_batch_size(count: int, parallelism: int) -> int:
    """The batch size `batch_size="auto"` picks for a map of `count` runs on a runner that runs
    `parallelism` at once: `count / (BATCHES_PER_WORKER * parallelism)`, rounded up, at least 1
    and at most `MAX_AUTO_BATCH`. A map shorter than that many batches is not batched."""
    per_batch = math.ceil(count / (BATCHES_PER_WORKER * max(1, parallelism)))
    return max(1, min(MAX_AUTO_BATCH, per_batch))


def run_batch(calls: Sequence[TaskCall]) -> list[Any]:
    """Run the calls of a batch one after another, where the engine runs the batch.

    Returns each call's bare result, or for a call that did not complete the `TaskRunFailure`
    carrying its final state (`batch_outcome_state` reads either back).
    """
    outcomes: list[Any] = []
    for call in calls:
        try:
            outcomes.append(call.run_for_engine())
        except TaskRunFailure as failure:
            outcomes.append(failure)
    return outcomes


def batch_outcome_state(outcome: Any) -> State:
    """The final state of one call of a batch, from its entry in `run_batch`'s list."""
    from taskloom.states import State

    if isinstance(outcome, TaskRunFailure):
        return outcome.state
    return State.completed(outcome)
