"""taskloom's local task runners: in the flow's thread, on threads, and in worker processes."""

from taskloom_local._concurrent import ConcurrentTaskRunner
from taskloom_local._processes import ProcessPoolTaskRunner
from taskloom_local._sequential import SequentialTaskRunner

__all__ = ["ConcurrentTaskRunner", "ProcessPoolTaskRunner", "SequentialTaskRunner"]
