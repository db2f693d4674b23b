"""Dask's HTML performance report over one flow run's use of the cluster."""

from __future__ import annotations

from pathlib import Path

import distributed


class PerformanceReport:
    """`distributed.performance_report` around a flow run, bound to the runner's own client
    (another client may be the process's default, a parent flow's for instance)."""

    def __init__(self, client: distributed.Client, path: str) -> None:
        self._client = client
        self._path = Path(path)
        self._report = distributed.performance_report(filename=str(self._path))

    def start(self) -> None:
        with self._client.as_current():
            self._report.__enter__()

    def finish(self) -> str:
        """Write the report and return its HTML."""
        with self._client.as_current():
            self._report.__exit__(None, None, None)
        return self._path.read_text(encoding="utf-8")
