"""Both Dask runners pass the runner test kit, on each way they can run."""

from __future__ import annotations

from typing import Any

import pytest

from dask_clusters import IN_PROCESS_CLUSTER
from taskloom.task_runners import TaskRunner
from taskloom.testing import TaskRunnerStandardSuite
from taskloom_dask import DaskTaskRunner


class TestDaskTaskRunnerOnATemporaryCluster(TaskRunnerStandardSuite):
    # The Ctrl-C test runs a cluster of worker processes; the others an in-process one, which
    # starts faster.
    runner = "tests.stress.runners:dask"
    stress_runs = 1
    # Dask cannot stop a running task, and closing an in-process cluster waits for it.
    cancel_stops_running_runs = False

    @pytest.fixture
    def task_runner(self) -> TaskRunner:
        return DaskTaskRunner(cluster_kwargs=IN_PROCESS_CLUSTER)


class TestDaskTaskRunnerOnAnExistingCluster(TaskRunnerStandardSuite):
    # A cancelled run that is running finishes on the cluster (its future says Cancelled at
    # once: the flow does not wait for it).

    @pytest.fixture
    def task_runner(self, existing_cluster: Any) -> TaskRunner:
        return DaskTaskRunner(address=existing_cluster.scheduler_address)


class TestLocalDaskTaskRunnerOnThreads(TaskRunnerStandardSuite):
    runner = "tests.stress.runners:local_dask_threads"


class TestLocalDaskTaskRunnerOnProcesses(TaskRunnerStandardSuite):
    runner = "tests.stress.runners:local_dask_processes"
    # A cancelled flow run's worker processes are killed, with the runs in them.
    cancelled_async_run_marker = "never written"


class TestLocalDaskTaskRunnerSynchronous(TaskRunnerStandardSuite):
    runner = "tests.stress.runners:local_dask_synchronous"
    runs_concurrently = False
