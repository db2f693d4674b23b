"""The core's own hook implementations: each runner step handed to the runner object.

Registered like any other plugin; a plugin's `wrapper=True` implementation wraps these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from taskloom.hookspecs import hookimpl

if TYPE_CHECKING:
    from taskloom._task_call import TaskCall
    from taskloom._toolkit.runner import TaskRunner
    from taskloom.futures import TaskloomFuture
    from taskloom.states import State


@hookimpl(trylast=True)
def taskloom_runner_start(runner: TaskRunner) -> bool:
    runner.start()
    return True


@hookimpl(trylast=True)
def taskloom_runner_submit(
    runner: TaskRunner, call: TaskCall, upstream: Sequence[TaskloomFuture]
) -> TaskloomFuture:
    return runner.submit(call, upstream)


@hookimpl(trylast=True)
def taskloom_runner_submit_batch(
    runner: TaskRunner, calls: Sequence[TaskCall]
) -> list[TaskloomFuture]:
    return runner.submit_batch(calls)


@hookimpl(trylast=True)
def taskloom_runner_wait(
    runner: TaskRunner, future: TaskloomFuture, timeout: float | None
) -> State | None:
    return runner.wait(future, timeout)


@hookimpl(trylast=True)
def taskloom_runner_shutdown(runner: TaskRunner) -> bool:
    runner.shutdown()
    return True
