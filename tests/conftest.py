"""Fixtures shared by the test folders: the `taskloom` log lines, subprocess environments and
scripts run as `__main__`."""

from __future__ import annotations

import faulthandler
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
from taskloom._logging import ensure_console_logging

#: Where a hanging test's stacks go: the terminal's stderr as it was before output capture.
_STACKS_FD: list[int] = []
#: How long before its time limit a test's threads' stacks are dumped.
DUMP_BEFORE_TIMEOUT = 5.0


def pytest_configure(config: pytest.Config) -> None:
    # A shell starts a background job (`cmd &`) with SIGINT ignored, and every process the tests
    # start would inherit that: the Ctrl-C tests need flow processes that hear SIGINT the way a
    # terminal's foreground job does. A handler (unlike "ignored") is reset by `exec`.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    assert sys.__stderr__ is not None
    _STACKS_FD.append(os.dup(sys.__stderr__.fileno()))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    """Dump every thread's stack shortly before the test's time limit (pytest-timeout's own
    dump goes nowhere under xdist, whose worker it then ends)."""
    marker = item.get_closest_marker("timeout")
    limit = float(marker.args[0] if marker else item.config.getini("timeout"))
    faulthandler.dump_traceback_later(
        max(1.0, limit - DUMP_BEFORE_TIMEOUT), file=_STACKS_FD[0], exit=False
    )
    try:
        return (yield)
    finally:
        faulthandler.cancel_dump_traceback_later()


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
    # The logger as the process's first flow run leaves it, before this handler joins: were a
    # flow run here the first, it would take the handler for the application's own and leave
    # the logger without its console handler (and, after this test, below INFO) for good.
    ensure_console_logging()
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
        return _run_python([str(script), *args], tmp_path, python_env)

    return run


@pytest.fixture
def run_module(
    tmp_path: Path, python_env: dict[str, str]
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`run_module(name, source, *args)`: write `source` as module `name` in `tmp_path` and run
    it with `python -m name`, as `run_script` does a script."""

    def run(name: str, source: str, *args: str) -> subprocess.CompletedProcess[str]:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return _run_python(["-m", name, *args], tmp_path, python_env)

    return run


def _run_python(
    args: list[str], cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
