"""The Ray runner passes the runner test kit on an existing cluster, through Ray Client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ray_clusters import RayCluster, ray_cluster_running
from taskloom.task_runners import TaskRunner
from taskloom.testing import TaskRunnerStandardSuite
from taskloom_ray import RayTaskRunner


@pytest.fixture(scope="module")
def connected_cluster() -> Iterator[RayCluster]:
    """A cluster this process stays connected to for the module: each test's runner joins the
    connection instead of opening its own (Ray Client takes seconds to connect)."""
    with (
        ray_cluster_running(RAY_AUTH_MODE="disabled") as cluster,
        RayTaskRunner(address=cluster.address),
    ):
        yield cluster


class TestRayTaskRunnerOnACluster(TaskRunnerStandardSuite):
    stress_runs = 1
    # Ray stops a cancelled running task by interrupting its worker, which an async run's
    # loop waiting on its selector does not see before the worker goes.
    cancelled_async_run_marker = "never written"

    @pytest.fixture
    def task_runner(self, connected_cluster: RayCluster) -> TaskRunner:
        return RayTaskRunner(address=connected_cluster.address)
