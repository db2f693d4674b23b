"""taskloom's local task runners: in the flow's thread, on threads, and in worker processes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from taskloom_local._concurrent import ConcurrentTaskRunner
from taskloom_local._sequential import SequentialTaskRunner

if TYPE_CHECKING:
    from taskloom_local._processes import ProcessPoolTaskRunner

__all__ = ["ConcurrentTaskRunner", "ProcessPoolTaskRunner", "SequentialTaskRunner"]


def __getattr__(name: str) -> Any:
    # multiprocessing and cloudpickle are imported only by flows that use worker processes.
    if name == "ProcessPoolTaskRunner":
        from taskloom_local._processes import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
