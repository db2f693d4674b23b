"""Fixtures shared by the test folders: the `taskloom` log lines, subprocess environments and
scripts run as `__main__`."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import taskloom


def pytest_configure(config: pytest.Config) -> None:
    # A shell starts a background job (`cmd &`) with SIGINT ignored, and every process the tests
    # start would inherit that: the Ctrl-C tests need flow processes that hear SIGINT the way a
    # terminal's foreground job does. A handler (unlike "ignored") is reset by `exec`.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


class LogLines(logging.Handler):
    """Collects the messages logged on the `taskloom` logger, in order."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def messages(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@pytest.fixture
def taskloom_log() -> Iterator[LogLines]:
    """The `taskloom` logger's lines while the test runs (INFO and up)."""
    logger = logging.getLogger("taskloom")
    handler = LogLines()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def python_env() -> dict[str, str]:
    """An environment in which a `sys.executable` subprocess imports the taskloom under test.

    Relative `PYTHONPATH` entries are made absolute so the subprocess may run anywhere.
    """
    paths = [str(Path(taskloom.__file__).resolve().parents[1])]
    paths += [
        str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKLOOM_")}
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def run_script(
    tmp_path: Path, python_env: dict[str, str]
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`run_script(source, *args)`: run `source` as a script's `__main__` in `tmp_path`, with its
    output captured; a script still running after 120 seconds fails the test."""

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
            timeout=120,
        )

    return run
