"""The flow process's peak resident memory during a block, sampled in a background thread."""

from __future__ import annotations

import threading

import psutil


class PeakRSS:
    """Samples this process's resident memory every few milliseconds while in use.

    with PeakRSS() as rss:
        run_the_flow()
    print(rss.growth_mb)
    """

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        """Peak above where the block started, in MB (10**6 bytes)."""
        return (self.peak - self.baseline) / 1e6
