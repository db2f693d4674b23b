"""Loaded into each worker process of a temporary cluster, as a dask preload: leave Ctrl-C and
SIGTERM to the flow's process, and say nothing of the runs a closing worker drops.

A terminal sends Ctrl-C to its whole process group, and a service manager its SIGTERM to every
process of the service, the cluster's worker processes included. The flow's process hears it,
cancels its runs and closes the cluster itself (its nannies ask their workers to close, and
kill them if they do not). A worker that heard it too would stop on its own and print its
`KeyboardInterrupt` and `CancelledError` tracebacks, or be restarted by its nanny: the cluster
is created with the signals blocked, so its workers start with them blocked (see
`taskloom.task_runners.signals_blocked`), and this preload ignores them. When the flow closes
the cluster with runs still going, each worker logs a warning per run it drops; the flow has
said already that they were cancelled.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from taskloom.task_runners import leave_signals_to_the_flow

#: The name the preload is given by.
MODULE = __name__

# What `distributed.Worker` logs for each running instruction that its `close()` cancels.
_CLOSE_NOISE = ("Async instruction for", "ended with CancelledError")


class _DroppedOnClose(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not (message.startswith(_CLOSE_NOISE[0]) and _CLOSE_NOISE[1] in message)


def dask_setup(worker: Any) -> None:
    # A worker run in the flow's own process (`processes=False`) runs off the main thread and
    # must leave the flow's handlers and logging alone.
    if threading.current_thread() is threading.main_thread():
        leave_signals_to_the_flow()
        logging.getLogger("distributed.worker.state_machine").addFilter(_DroppedOnClose())
