"""Alternating rounds: the raw engine and taskloom timed turn about, compared round by round."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Comparison:
    """Per-task seconds of each side in every round, and their ratio round by round."""

    raw: list[float]
    ours: list[float]

    @property
    def ratios(self) -> list[float]:
        return [o / r for r, o in zip(self.raw, self.ours, strict=True)]

    def row(self, raw_name: str, our_name: str) -> str:
        ratios = self.ratios
        return (
            f"{raw_name:<42}{statistics.median(self.raw) * 1e6:>9.1f}   {our_name:<30}"
            f"{statistics.median(self.ours) * 1e6:>9.1f}   {statistics.median(ratios):>5.2f}"
            f"   {min(ratios):.2f}-{max(ratios):.2f}"
        )


HEADER = f"{'raw engine':<42}{'µs/task':>9}   {'taskloom':<30}{'µs/task':>9}   {'ratio':>5}   range"


def per_task(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) / n


def alternate(
    raw: Callable[[], object], ours: Callable[[], object], n: int, rounds: int
) -> Comparison:
    """`rounds` rounds of both sides, each of `n` tasks; who goes first alternates, so a slow
    stretch of the machine falls on both sides alike."""
    comparison = Comparison([], [])
    for round_ in range(rounds):
        if round_ % 2:
            ours_time = per_task(ours, n)
            raw_time = per_task(raw, n)
        else:
            raw_time = per_task(raw, n)
            ours_time = per_task(ours, n)
        comparison.raw.append(raw_time)
        comparison.ours.append(ours_time)
    return comparison
