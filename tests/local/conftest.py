"""Local runner fixtures: a time limit for flows that could hang."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def within() -> Callable[[float, Callable[[], Any]], Any]:
    """`within(seconds, fn)`: fn's result, or a test failure (not a hang) if it takes longer.

    The call runs on a daemon thread, so a deadlocked flow is left behind instead of blocking.
    """

    def call(seconds: float, fn: Callable[[], Any]) -> Any:
        outcome: list[tuple[bool, Any]] = []

        def target() -> None:
            try:
                outcome.append((True, fn()))
            except BaseException as exc:  # re-raised in the test's thread
                outcome.append((False, exc))

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(seconds)
        if not outcome:
            pytest.fail(f"did not finish within {seconds} seconds")
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    return call
