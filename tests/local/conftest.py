"""Local runner fixtures: a time limit for flows that could hang, and scripts run as `__main__`."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
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


@pytest.fixture
def run_script(
    tmp_path: Path, python_env: dict[str, str]
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`run_script(source, *args)`: run `source` as a script's `__main__`, within 60 seconds."""

    def run(source: str, *args: str) -> subprocess.CompletedProcess[str]:
        script = tmp_path / "script.py"
        script.write_text(textwrap.dedent(source))
        return subprocess.run(
            [sys.executable, str(script), *args],
            env=python_env,
            cwd=tmp_path,
            capture_output=True,
            check=False,
            text=True,
            timeout=60,
        )

    return run
