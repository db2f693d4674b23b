"""Plain values: scalars that hold no futures and that plain pickle writes by value.

The engine skips scanning them for futures; runners that ship calls to other processes pickle
calls whose arguments are all plain with the standard pickler (cheaper than cloudpickle) and
know the other process reads them back as written (no reference to the flow's `__main__`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PLAIN_TYPES: frozenset[type] = frozenset({int, float, str, bytes, bool, type(None)})


def all_plain(values: Iterable[Any], types: frozenset[type] = PLAIN_TYPES) -> bool:
    """Whether every one of `values` is of exactly one of `types` (subclasses are not)."""
    return all(type(value) in types for value in values)
