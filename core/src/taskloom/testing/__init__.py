"""The runner test kit: the behaviour every task runner must show, as a pytest class, and the
stress scenarios every runner must survive many times over.

A runner package subclasses `TaskRunnerStandardSuite` in its tests and provides one fixture::

    from taskloom.testing import TaskRunnerStandardSuite

    class TestMyRunner(TaskRunnerStandardSuite):
        @pytest.fixture
        def task_runner(self):
            return MyTaskRunner()

The runner it returns must be unstarted and able to run at least two task runs at once unless
the subclass sets `runs_concurrently = False` (then the suite checks that runs never overlap).
The suite runs each stress scenario (`SCENARIOS`) a few times too; the stress harness,
`python -m taskloom.testing.stress`, runs them many times in fresh processes.

Importing this package does not import pytest: the suite is loaded when first named.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from taskloom.testing._inline import InlineTaskRunner
from taskloom.testing._pool import PoolTaskRunner
from taskloom.testing._scenarios import SCENARIOS, Scenario

if TYPE_CHECKING:
    from taskloom.testing._suite import TaskRunnerStandardSuite

__all__ = [
    "SCENARIOS",
    "InlineTaskRunner",
    "PoolTaskRunner",
    "Scenario",
    "TaskRunnerStandardSuite",
]


def __getattr__(name: str) -> Any:
    if name == "TaskRunnerStandardSuite":
        from taskloom.testing._suite import TaskRunnerStandardSuite

        return TaskRunnerStandardSuite
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
