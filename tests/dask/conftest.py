"""Dask clusters for the tests: real ones, on 127.0.0.1, stopped when the tests end."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The tests' tasks (`dask_runner_tasks`) and clusters (`dask_clusters`) live beside this file;
# worker processes unpickle tasks by module name, so the folder is on the path of this process
# (and, through it, of the workers it spawns) whatever pytest's import mode.
HERE = str(Path(__file__).parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from dask_clusters import (  # noqa: E402
    EXISTING_CLUSTER,
    STARTUP_SECONDS,
    CommandLineCluster,
    start_dask_command,
    stop,
)


@pytest.fixture(scope="session")
def existing_cluster() -> Iterator[Any]:
    """A `LocalCluster` of worker processes that the runner under test only connects to."""
    from distributed import LocalCluster

    cluster = LocalCluster(**EXISTING_CLUSTER)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def dask_cli_env() -> dict[str, str]:
    """The environment of `dask scheduler`/`dask worker` processes: this process's import path,
    so workers import the tests' tasks as this process does."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("TASKLOOM_TASK_RUNNER", None)
    return env


@pytest.fixture(scope="module")
def command_line_cluster(
    tmp_path_factory: pytest.TempPathFactory, dask_cli_env: dict[str, str]
) -> Iterator[CommandLineCluster]:
    """`dask scheduler` and two `dask worker` processes on 127.0.0.1, one with a GPU resource."""
    from distributed import Client

    folder = tmp_path_factory.mktemp("dask-cli")
    scheduler_file = folder / "scheduler.json"
    processes = [
        start_dask_command(
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--dashboard-address",
                "127.0.0.1:0",
                "--scheduler-file",
                str(scheduler_file),
            ],
            dask_cli_env,
            folder / "scheduler.log",
        )
    ]
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not scheduler_file.exists():
            if time.monotonic() > deadline or processes[0].poll() is not None:
                raise RuntimeError((folder / "scheduler.log").read_text())
            time.sleep(0.1)
        for name, extra in (("gpu", ["--resources", "GPU=1"]), ("plain", [])):
            processes.append(
                start_dask_command(
                    [
                        "worker",
                        "--scheduler-file",
                        str(scheduler_file),
                        "--host",
                        "127.0.0.1",
                        "--dashboard-address",
                        "127.0.0.1:0",
                        "--nthreads",
                        "2",
                        "--name",
                        name,
                        *extra,
                    ],
                    dask_cli_env,
                    folder / f"worker-{name}.log",
                )
            )
        with Client(scheduler_file=str(scheduler_file), timeout=STARTUP_SECONDS) as client:
            client.wait_for_workers(2, timeout=STARTUP_SECONDS)
            # The scheduler can count a worker before its name shows in what it reports.
            by_name: dict[str, str] = {}
            while not {"gpu", "plain"} <= by_name.keys():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the workers did not both register: {by_name}")
                workers = client.scheduler_info()["workers"]
                by_name = {info["name"]: address for address, info in workers.items()}
                time.sleep(0.05)
            address = client.scheduler.address
        yield CommandLineCluster(address, processes, by_name["gpu"], by_name["plain"])
    finally:
        for process in reversed(processes):
            stop(process)
