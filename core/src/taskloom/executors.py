"""The older vocabulary: executors are task runners under their first names."""

from __future__ import annotations

from typing import Any

from taskloom._vocabulary import ALIASES

# The names resolve lazily (`__getattr__`), so that importing this module loads no runner.
__all__ = [  # noqa: F822
    "DaskExecutor",
    "LocalDaskExecutor",
    "LocalExecutor",
    "SequentialExecutor",
]


def __getattr__(name: str) -> Any:
    if name not in ALIASES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from taskloom import task_runners

    return getattr(task_runners, ALIASES[name])
