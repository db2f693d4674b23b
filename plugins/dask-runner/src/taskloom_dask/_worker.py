"""The worker side: the function Dask runs for a task run, and waiting without deadlocking.

A task run may submit task runs and wait for them from inside a worker. Its thread then holds
one of the worker's slots while it waits; with every slot held that way, nothing could run. So
a wait inside a worker task first leaves the worker's thread pool (`secede`) and joins it again
afterwards (`rejoin`), as `distributed.worker_client` does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from taskloom.task_runners import run_batch
from taskloom_dask._payload import loads_call

_seceded = threading.local()


class _TaskRunFailureFilter(logging.Filter):
    """Drops the worker's "Compute Failed" record for a task run that did not complete.

    The task engine has already logged that run's failure, with its traceback; the worker's
    record would repeat it around `TaskRunFailure`, the carrier of its state.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Compute Failed"):
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        return not any(str(arg).startswith("TaskRunFailure(") for arg in args)


# This module is imported wherever Dask runs a task run: in each worker, before the first one.
logging.getLogger("distributed.worker").addFilter(_TaskRunFailureFilter())


#: The flow run whose task run this worker thread runs now, for the records it logs (see
#: `_log_forwarding`): set before each run, so never stale while one runs.
running = threading.local()


def run_task_call(task: bytes, payload: bytes, *upstream_values: Any) -> Any:
    """What Dask runs: the pickled task run with the values of its upstream runs (Dask resolved
    the futures passed after the payload). Returns the bare result; a run that did not complete
    raises `TaskRunFailure`, so Dask skips its dependents and hands them that error."""
    call = loads_call(task, payload)
    running.flow_run_id = call.flow_run.id
    return call.run_for_engine(*upstream_values)


def run_task_batch(task: bytes, payload: bytes) -> list[Any]:
    """What Dask runs for a batch of a map: each call's result, or its `TaskRunFailure`."""
    calls = loads_call(task, payload)
    running.flow_run_id = calls[0].flow_run.id if calls else None
    return run_batch(calls)


def _in_worker_task() -> bool:
    # distributed's workers record the key a thread runs in dask's own thread-local state.
    from dask.context import thread_state

    return getattr(thread_state, "key", None) is not None and not getattr(_seceded, "active", False)


@contextmanager
def blocking_in_worker() -> Iterator[None]:
    """Around a blocking wait: leave the worker's thread pool while it lasts, inside a task."""
    if not _in_worker_task():
        yield
        return
    from distributed import rejoin, secede

    secede()
    _seceded.active = True
    try:
        yield
    finally:
        _seceded.active = False
        rejoin()
