"""The seeds' import path for runner classes: `from taskloom.task_runner import DaskTaskRunner`
is `taskloom.task_runners` under its singular name (the class loads from its plugin, or the
`ImportError` names the package to install)."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    from taskloom import task_runners

    return getattr(task_runners, name)
