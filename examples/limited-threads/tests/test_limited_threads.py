"""The example runner passes the whole runner kit, and keeps to its limit."""

from __future__ import annotations

import threading
import time

from limited_threads import LimitedThreadTaskRunner
from taskloom import flow, task
from taskloom.testing import TaskRunnerStandardSuite


class TestLimitedThreadTaskRunner(TaskRunnerStandardSuite):
    runner = "limited-threads"


_lock = threading.Lock()
_running = [0, 0]  # now, most at once


@task
def busy(_: int) -> None:
    with _lock:
        _running[0] += 1
        _running[1] = max(_running)
    time.sleep(0.05)
    with _lock:
        _running[0] -= 1


def test_no_more_than_max_workers_runs_run_at_once() -> None:
    @flow(task_runner=LimitedThreadTaskRunner(max_workers=2))
    def many() -> None:
        busy.map(range(8))

    _running[:] = [0, 0]
    many()
    assert _running[1] == 2
