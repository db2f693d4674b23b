"""Task-run log lines from the workers of an existing cluster, in the flow's own output.

A temporary cluster's workers write to the stderr they inherited from the flow's process, so
their lines already reach the flow's output. The workers of a cluster started elsewhere write
to their own stderr (a terminal or a log file on their host). For them, a worker plugin
(distributed's `ForwardLoggingPlugin`) publishes each `taskloom` log record as an event, stamped
with the flow run it belongs to; the flow's process subscribes and prints the records of its own
flow runs through its own handlers, with the time they happened on the worker. Records of other
flows sharing the cluster are dropped, not printed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

import distributed
from distributed.diagnostics.plugin import ForwardLoggingPlugin

from taskloom.task_runners import logger
from taskloom_dask._worker import running

PLUGIN_NAME = "taskloom-log-forwarding"
TOPIC = "taskloom-log-records"


def stderr_identity() -> tuple[str, int, int]:
    """Which stream this process's stderr is: host, device and inode of file descriptor 2."""
    try:
        status = os.fstat(2)
    except OSError:
        return socket.gethostname(), -1, -1
    return socket.gethostname(), status.st_dev, status.st_ino


def _stamp_flow_run(record: logging.LogRecord) -> bool:
    record.taskloom_flow_run_id = getattr(running, "flow_run_id", None)
    return True


class TaskloomLogForwarding(ForwardLoggingPlugin):
    """Forwards the `taskloom` logger's records, each stamped with its flow run's id."""

    def setup(self, worker: Any) -> None:
        super().setup(worker)  # type: ignore[no-untyped-call]
        assert self.handler is not None
        self.handler.addFilter(_stamp_flow_run)


#: How long the end of a flow run waits for the workers' last records to arrive.
FLUSH_SECONDS = 5.0


def forward_worker_logs(
    client: distributed.Client, flow_run_ids: set[str | None]
) -> Callable[[], None] | None:
    """Print the workers' `taskloom` records of the flow runs in `flow_run_ids` in this process,
    unless every worker's stderr is this process's own (their lines reach the output already).

    Returns what ends it, or None when nothing is forwarded. Ending it first waits (at most
    `FLUSH_SECONDS`) until each worker's records sent so far have arrived: records travel
    through the scheduler, behind the results, and the flow's last lines would otherwise be
    lost with its client.
    """
    here = stderr_identity()
    try:
        there = client.run(stderr_identity)
    except Exception:
        there = {}  # no worker yet (they join later): their stderr is not known to be ours
    if there and all(tuple(identity) == here for identity in there.values()):
        return None
    flushed: set[str] = set()
    arrived = threading.Condition()

    def handle(event: tuple[float, dict[str, Any]]) -> None:
        _, attributes = event
        marker = attributes.get(_FLUSH)
        if marker is not None:
            with arrived:
                flushed.add(marker)
                arrived.notify_all()
        elif attributes.get("taskloom_flow_run_id") in flow_run_ids:
            logger.handle(logging.makeLogRecord(attributes))

    def stop() -> None:
        try:
            # Each worker sends a marker behind its records: once every marker is here, so
            # is every record sent before it (one ordered stream per worker).
            markers = set(client.run(_send_marker, uuid.uuid4().hex).values())
            with arrived:
                arrived.wait_for(lambda: markers <= flushed, timeout=FLUSH_SECONDS)
        finally:
            client.unsubscribe_topic(TOPIC)

    client.subscribe_topic(TOPIC, handle)
    level = logger.getEffectiveLevel()
    # Registering replaces a plugin of the same name: flows sharing the cluster share one.
    plugin = TaskloomLogForwarding(logger.name, level, TOPIC)  # type: ignore[no-untyped-call]
    client.register_plugin(plugin, PLUGIN_NAME)
    return stop


_FLUSH = "taskloom_flush"


def _send_marker(token: str, dask_worker: Any) -> str:
    """In a worker: send this worker's flush marker behind its records, and return it."""
    marker = f"{token} {dask_worker.address}"
    dask_worker.log_event(TOPIC, {_FLUSH: marker})
    return marker
