"""`unmapped(x)`: an argument of `Task.map` passed whole to every run."""

from __future__ import annotations

from typing import Any


class unmapped:  # noqa: N801 - reads as a marker in calls: `t.map(xs, unmapped(y))`
    """Marks an argument of `Task.map` that is passed whole to every run."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value
