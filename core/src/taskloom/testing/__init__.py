"""The runner test kit: the behaviour every task runner must show, as a pytest class.

A runner package subclasses `TaskRunnerStandardSuite` in its tests and provides one fixture::

    from taskloom.testing import TaskRunnerStandardSuite

    class TestMyRunner(TaskRunnerStandardSuite):
        @pytest.fixture
        def task_runner(self):
            return MyTaskRunner()

The runner it returns must be unstarted and able to run at least two task runs at once unless
the subclass sets `runs_concurrently = False` (then the suite checks that runs never overlap).
"""

from taskloom.testing._inline import InlineTaskRunner
from taskloom.testing._suite import TaskRunnerStandardSuite

__all__ = ["InlineTaskRunner", "TaskRunnerStandardSuite"]
