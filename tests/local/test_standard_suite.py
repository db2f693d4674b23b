"""Every local runner passes the runner test kit."""

from __future__ import annotations

import pytest

from taskloom.task_runners import TaskRunner
from taskloom.testing import InlineTaskRunner, TaskRunnerStandardSuite
from taskloom_local import ConcurrentTaskRunner, ProcessPoolTaskRunner, SequentialTaskRunner


class TestSequentialTaskRunner(TaskRunnerStandardSuite):
    runner = "sequential"
    runs_concurrently = False

    @pytest.fixture
    def task_runner(self) -> TaskRunner:
        return SequentialTaskRunner()


class TestConcurrentTaskRunner(TaskRunnerStandardSuite):
    runner = "concurrent"

    @pytest.fixture
    def task_runner(self) -> TaskRunner:
        return ConcurrentTaskRunner()


class TestProcessPoolTaskRunner(TaskRunnerStandardSuite):
    runner = "tests.stress.runners:processes"
    # A cancelled flow run's worker processes are killed, with the runs in them.
    cancelled_async_run_marker = "never written"

    @pytest.fixture
    def task_runner(self) -> TaskRunner:
        return ProcessPoolTaskRunner(max_workers=2)


class TestInlineTaskRunner(TaskRunnerStandardSuite):
    runner = "taskloom.testing:InlineTaskRunner"
    runs_concurrently = False

    @pytest.fixture
    def task_runner(self) -> TaskRunner:
        return InlineTaskRunner()
