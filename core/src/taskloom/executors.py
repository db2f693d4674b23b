"""The older vocabulary: executors are task runners under their first names."""

from __future__ import annotations

from typing import Any

# The names resolve lazily (`__getattr__`), so that importing this module loads no runner.
__all__ = [  # noqa: F822
    "DaskExecutor",
    "LocalDaskExecutor",
    "LocalExecutor",
    "SequentialExecutor",
]

ALIASES = {
    "LocalExecutor": "SequentialTaskRunner",
    "SequentialExecutor": "SequentialTaskRunner",
    "LocalDaskExecutor": "LocalDaskTaskRunner",
    "DaskExecutor": "DaskTaskRunner",
}


def __getattr__(name: str) -> Any:
    if name not in ALIASES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from taskloom import task_runners

    return getattr(task_runners, ALIASES[name])
