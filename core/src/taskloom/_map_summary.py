"""One log line for a whole map (`TASKLOOM_TASK_RUN_LOGS=summary`), once all its runs ended.

    add: 10,000 runs, 9,990 Completed, 10 Failed in 4.1 s

Each future's done callback counts down; the last one hands the line to a thread of its own,
which reads the runs' states: a callback may run in an engine's thread (Dask's event loop),
where reading a state could block it. The flow run waits for its maps' lines before it logs
its own end (`wait_for_lines`), so they come before it.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from taskloom._logging import log_info

if TYPE_CHECKING:
    from taskloom.futures import TaskloomFuture

#: How long the end of a flow run waits for a map's line (its runs have all ended by then).
WAIT_SECONDS = 10.0


class MapSummary:
    """Follows one map's futures and logs its line when the last one has ended."""

    def __init__(self, task_name: str, futures: Sequence[TaskloomFuture], start: float) -> None:
        self._name = task_name
        self._futures = list(futures)
        #: `time.perf_counter()` when the map began submitting
        self._start = start
        self._lock = threading.Lock()
        self._remaining = len(self._futures)
        self._logged = threading.Event()
        for future in self._futures:
            future.add_done_callback(self._ended)

    def _ended(self, _: TaskloomFuture) -> None:
        with self._lock:
            self._remaining -= 1
            last = self._remaining == 0
        if last:
            seconds = time.perf_counter() - self._start
            threading.Thread(
                target=self._log, args=(seconds,), name="taskloom-map-summary", daemon=True
            ).start()

    def _log(self, seconds: float) -> None:
        try:
            counts = collections.Counter(future.state.name for future in self._futures)
            outcomes = ", ".join(f"{n:,} {name}" for name, n in counts.most_common())
            log_info(
                "%s: %s runs, %s in %.1f s",
                self._name,
                f"{len(self._futures):,}",
                outcomes,
                seconds,
            )
        finally:
            self._logged.set()

    def wait_for_line(self, timeout: float = WAIT_SECONDS) -> None:
        self._logged.wait(timeout)


def wait_for_lines(summaries: Sequence[MapSummary]) -> None:
    """Wait until each of `summaries` has logged its line (each at most `WAIT_SECONDS`)."""
    for summary in summaries:
        summary.wait_for_line()
