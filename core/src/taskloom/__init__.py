"""taskloom: Python workflows whose tasks run wherever their task runner puts them."""

from __future__ import annotations

from typing import Any

from taskloom._flows import Flow, flow
from taskloom._graph import Parameter
from taskloom._registry import available_task_runners
from taskloom._run_context import context
from taskloom._run_logger import get_run_logger
from taskloom._tasks import Task, task
from taskloom._unmapped import unmapped
from taskloom.futures import TaskloomFuture, TaskloomFutureList, as_completed, wait
from taskloom.states import State

__all__ = [
    "Flow",
    "Parameter",
    "State",
    "Task",
    "TaskloomFuture",
    "TaskloomFutureList",
    "as_completed",
    "available_task_runners",
    "context",
    "flow",
    "get_run_logger",
    "hookimpl",
    "task",
    "unmapped",
    "wait",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # pluggy is only imported once a plugin asks for the marker.
    if name == "hookimpl":
        from taskloom.hookspecs import hookimpl

        return hookimpl
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
