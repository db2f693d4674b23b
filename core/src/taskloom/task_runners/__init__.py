"""Task runners: the base class, the toolkit runner plugins are written with, and every
installed runner class by name.

`from taskloom.task_runners import DaskTaskRunner` imports the class from its plugin package, or
raises an `ImportError` naming the package to install.
"""

from __future__ import annotations

from typing import Any

from taskloom._task_call import TaskCall
from taskloom.futures import FinishedFuture, TaskloomFuture
from taskloom.task_runners._base import TaskRunner
from taskloom.task_runners._dependencies import unstarted_upstream_first, when_final
from taskloom.task_runners._thread_calls import ThreadCalls
from taskloom.task_runners._worker_signals import leave_signals_to_the_flow, signals_blocked

__all__ = [
    "FinishedFuture",
    "TaskCall",
    "TaskRunner",
    "TaskloomFuture",
    "ThreadCalls",
    "leave_signals_to_the_flow",
    "signals_blocked",
    "unstarted_upstream_first",
    "when_final",
]


def __getattr__(name: str) -> Any:
    if name.startswith("_") or not name[:1].isupper():
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from taskloom._registry import load_task_runner_class, missing_package

    cls = load_task_runner_class(name)
    if cls is not None and cls.__name__ == name:
        return cls
    package = missing_package(name)
    if package is not None:
        raise ImportError(
            f"{name} is provided by the {package} package, which is not installed: "
            f"pip install {package}",
            name=__name__,
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
