"""The older vocabulary's names: executors are task runners under their first names."""

from __future__ import annotations

#: each older name and the runner class it means
ALIASES = {
    "LocalExecutor": "SequentialTaskRunner",
    "SequentialExecutor": "SequentialTaskRunner",
    "LocalDaskExecutor": "LocalDaskTaskRunner",
    "DaskExecutor": "DaskTaskRunner",
}

#: the older name of each runner that has one, as log lines in that vocabulary say it
_EXECUTOR_NAMES = {runner: alias for alias, runner in ALIASES.items()}


def executor_name(runner_name: str) -> str:
    """A runner's name in the older vocabulary (`DaskTaskRunner` → `DaskExecutor`); a runner
    without an older name keeps its own."""
    return _EXECUTOR_NAMES.get(runner_name, runner_name)
