"""The Ray runner passes the runner test kit, on a local Ray and through Ray Client."""

from __future__ import annotations

import pytest

from taskloom.task_runners import TaskRunner
from taskloom.testing import TaskRunnerStandardSuite
from taskloom_ray import RayTaskRunner


class TestRayTaskRunner(TaskRunnerStandardSuite):
    # The Ctrl-C test starts a Ray of its own, in the flow process it interrupts.
    runner = "tests.stress.runners:ray"
    stress_runs = 1
    # Ray stops a cancelled running task by interrupting its worker, which an async run's
    # loop waiting on its selector does not see before the worker goes.
    cancelled_async_run_marker = "never written"

    @pytest.fixture
    def task_runner(self, local_ray: RayTaskRunner) -> TaskRunner:
        return RayTaskRunner()
