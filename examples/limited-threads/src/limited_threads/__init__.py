"""An example third-party runner: task runs on threads, at most `max_workers` at once."""

from limited_threads.runner import LimitedThreadTaskRunner

__all__ = ["LimitedThreadTaskRunner"]
