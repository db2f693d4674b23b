"""The clusters the Dask tests run on: settings, and `dask scheduler`/`dask worker` processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STARTUP_SECONDS = 60

#: The cluster of worker processes each test process shares for "existing cluster" tests.
EXISTING_CLUSTER: dict[str, Any] = {
    "n_workers": 1,
    "threads_per_worker": 4,
    "processes": True,
    "host": "127.0.0.1",
    "dashboard_address": "127.0.0.1:0",
}

#: A temporary cluster cheap enough to create in every test: one in-process worker over TCP.
IN_PROCESS_CLUSTER: dict[str, Any] = {
    "n_workers": 1,
    "threads_per_worker": 4,
    "processes": False,
    "dashboard_address": "127.0.0.1:0",
}


@dataclass
class CommandLineCluster:
    """A `dask scheduler` and `dask worker` processes, as an operator would start them."""

    address: str
    processes: list[subprocess.Popen[bytes]]
    gpu_worker: str
    plain_worker: str


def start_dask_command(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`python -m dask ARGS` in a session of its own, its output in `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so stopping it stops its own children too
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started with its own session, and everything it started."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
    # Whatever the group still holds (a worker its nanny did not stop) goes too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=15)
