"""Handing a flow run to another process: its handle pickled once, unpickled once per process.

A task call that runs in a worker process carries the flow run it belongs to, so that the task
runs it submits there go to the same runner and are named in one sequence. Pickling that handle
for each of thousands of calls would cost more than the calls: it is pickled once per flow run
in the flow's process and unpickled once per worker, which keeps it by its bytes.
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from taskloom._submitter import Submitter

#: How many flow runs' handles a long-lived worker keeps before it starts afresh.
_KEPT = 64
_flow_runs: dict[bytes, Submitter] = {}


def dumps_flow_run(flow_run: Submitter) -> bytes:
    """`call.flow_run` pickled as its task runs carry it into another process."""
    return pickle.dumps(flow_run.remote(), protocol=pickle.HIGHEST_PROTOCOL)


def loads_flow_run(pickled: bytes) -> Submitter:
    """In a worker: the flow run `dumps_flow_run` pickled, unpickled once per process."""
    flow_run = _flow_runs.get(pickled)
    if flow_run is None:
        if len(_flow_runs) >= _KEPT:
            _flow_runs.clear()
        flow_run = _flow_runs[pickled] = pickle.loads(pickled)
    return flow_run
