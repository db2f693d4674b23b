"""The seeds' examples for the Dask runners, each run as a script of its own."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

RunScript = Callable[..., subprocess.CompletedProcess[str]]

TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d\.\d\d\d \| ")


def log_messages(stderr: str) -> list[str]:
    """The `HH:MM:SS.mmm | message` lines, without their timestamps."""
    return [TIMESTAMP.sub("", line) for line in stderr.splitlines() if TIMESTAMP.match(line)]


def succeeded(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, done.stderr[-3000:]
    return done


MULTIPLE_RUNNERS = """
    from taskloom import flow, task
    from taskloom.task_runners import DaskTaskRunner, SequentialTaskRunner

    @task
    def hello_local():
        print("Hello!")

    @task
    def hello_dask():
        print("Hello from Dask!")

    @flow(task_runner=SequentialTaskRunner())
    def sequential_flow():
        hello_local()
        dask_subflow()
        hello_local()

    @flow(task_runner=DaskTaskRunner())
    def dask_subflow():
        hello_dask()

    if __name__ == "__main__":
        sequential_flow()
"""


def test_a_dask_subflow_logs_the_seeds_lines_in_order(run_script: RunScript) -> None:
    pytest.importorskip("taskloom_local", reason="the seeds' parent flow is sequential")
    done = succeeded(run_script(MULTIPLE_RUNNERS))
    patterns = [
        r"Beginning flow run '[a-z]+-[a-z]+' for flow 'sequential-flow'\.\.\.",
        r"Starting task runner `SequentialTaskRunner`\.\.\.",
        r"Submitting task run 'hello_local-[0-9a-f]{8}-0' to task runner\.\.\.",
        r"Task run 'hello_local-[0-9a-f]{8}-0' finished in state "
        r"Completed\(message=None, type=COMPLETED\)",
        r"Beginning subflow run '[a-z]+-[a-z]+' for flow 'dask-subflow'\.\.\.",
        r"Starting task runner `DaskTaskRunner`\.\.\.",
        r"Creating a new Dask cluster with `distributed\.deploy\.local\.LocalCluster`",
        r"The Dask dashboard is available at http://127\.0\.0\.1:\d+/status",
        r"Submitting task run 'hello_dask-[0-9a-f]{8}-0' to task runner\.\.\.",
        r"Task run 'hello_dask-[0-9a-f]{8}-0' finished in state "
        r"Completed\(message=None, type=COMPLETED\)",
        r"Shutting down task runner `DaskTaskRunner`\.\.\.",
        r"Subflow run '[a-z]+-[a-z]+' finished in state "
        r"Completed\(message='All states completed\.', type=COMPLETED\)",
        r"Submitting task run 'hello_local-[0-9a-f]{8}-1' to task runner\.\.\.",
        r"Task run 'hello_local-[0-9a-f]{8}-1' finished in state "
        r"Completed\(message=None, type=COMPLETED\)",
        r"Shutting down task runner `SequentialTaskRunner`\.\.\.",
        r"Flow run '[a-z]+-[a-z]+' finished in state "
        r"Completed\(message='All states completed\.', type=COMPLETED\)",
    ]
    messages = log_messages(done.stderr)
    assert len(messages) == len(patterns), messages
    for message, pattern in zip(messages, patterns, strict=True):
        assert re.fullmatch(pattern, message), (message, pattern)
    assert done.stdout.splitlines() == ["Hello!", "Hello from Dask!", "Hello!"]


EXECUTOR_CLASS = """
    from taskloom import flow, task
    from taskloom.executors import DaskExecutor

    @task
    def square(x):
        return x * x

    @flow(executor=DaskExecutor)
    def my_flow():
        return [f.result() for f in square.map([1, 2, 3])]

    if __name__ == "__main__":
        print(my_flow())
"""


def test_the_older_executor_class_runs_on_a_temporary_cluster(run_script: RunScript) -> None:
    assert succeeded(run_script(EXECUTOR_CLASS)).stdout.strip() == "[1, 4, 9]"


WORKERS_AND_THREADS = """
    from distributed import get_client, get_worker
    from taskloom import flow, task
    from taskloom.task_runners import DaskTaskRunner

    @task
    def threads():
        return get_worker().state.nthreads

    @flow(task_runner=DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 2}))
    def my_flow():
        return len(get_client().scheduler_info()["workers"]), threads()

    if __name__ == "__main__":
        print(my_flow())
"""


def test_cluster_kwargs_size_the_temporary_cluster(run_script: RunScript) -> None:
    assert succeeded(run_script(WORKERS_AND_THREADS)).stdout.strip() == "(2, 2)"


ADAPTIVE = """
    from taskloom import flow, task
    from taskloom.task_runners import DaskTaskRunner

    @task
    def show(x):
        return x

    @flow(task_runner=DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": 0},
        adapt_kwargs={"minimum": 1, "maximum": 2},
    ))
    def my_flow():
        return sum(f.result() for f in show.map(range(10)))

    if __name__ == "__main__":
        print(my_flow())
"""


def test_adaptive_scaling_starts_workers_for_the_work(run_script: RunScript) -> None:
    assert succeeded(run_script(ADAPTIVE)).stdout.strip() == "45"


ANNOTATIONS = """
    import dask
    from taskloom import flow, task
    from taskloom.task_runners import DaskTaskRunner

    @task
    def show(x):
        print(x)

    @flow(task_runner=DaskTaskRunner())
    def my_flow():
        with dask.annotate(priority=-10):
            future = show(1)  # low priority task

        with dask.annotate(priority=10):
            future = show(2)  # high priority task

    if __name__ == "__main__":
        my_flow()
"""


def test_the_priority_annotation_example_runs(run_script: RunScript) -> None:
    assert succeeded(run_script(ANNOTATIONS)).stdout.split() == ["1", "2"]


RESOURCES = """
    import dask
    from taskloom import flow, task
    from taskloom.task_runners import DaskTaskRunner

    @task
    def show(x):
        print(x)

    @flow(
        task_runner=DaskTaskRunner(
            cluster_kwargs={"n_workers": 1, "resources": {"GPU": 1, "process": 1}}
        )
    )
    def my_flow():
        with dask.annotate(resources={'GPU': 1}):
            future = show(0)  # this task requires 1 GPU resource on a worker

        with dask.annotate(resources={'process': 1}):
            future = show(1)
            future = show(2)
            future = show(3)

    if __name__ == "__main__":
        my_flow()
"""


def test_the_resources_example_runs(run_script: RunScript) -> None:
    assert succeeded(run_script(RESOURCES)).stdout.split() == ["0", "1", "2", "3"]


PERFORMANCE_REPORT = """
    import sys
    from taskloom import flow, task
    from taskloom.task_runners import DaskTaskRunner

    @task
    def hello():
        return "hi"

    runner = DaskTaskRunner(performance_report_path=sys.argv[1])

    @flow(task_runner=runner)
    def performance_report_flow():
        return hello()

    if __name__ == "__main__":
        performance_report_flow()
        print(len(performance_report_flow.task_runner.performance_report))
"""


def test_the_performance_report_example_writes_and_keeps_the_report(
    run_script: RunScript, tmp_path: Path
) -> None:
    path = tmp_path / "performance_report.html"
    done = succeeded(run_script(PERFORMANCE_REPORT, str(path)))
    assert int(done.stdout) == len(path.read_text()) > 0


EXISTING = """
    import sys
    from taskloom import flow, task
    from taskloom.task_runners import DaskTaskRunner

    @task
    def hello():
        return "hi"

    @flow(task_runner=DaskTaskRunner(address=sys.argv[1]))
    def my_flow():
        return hello()

    if __name__ == "__main__":
        print(my_flow())
"""


def test_the_existing_cluster_example_connects_to_it(
    run_script: RunScript, existing_cluster: Any
) -> None:
    done = succeeded(run_script(EXISTING, existing_cluster.scheduler_address))
    assert done.stdout.strip() == "hi"
    assert "Creating a new Dask cluster" not in done.stderr


LOCAL_DASK = """
    from taskloom import flow, task
    from taskloom.executors import LocalDaskExecutor

    @task
    def double(x):
        return 2 * x

    @flow(executor=LocalDaskExecutor(scheduler="processes", num_workers=2))
    def processes_flow():
        return [f.result() for f in double.map([1, 2, 3])]

    @flow(executor=LocalDaskExecutor(scheduler="threads", num_workers=8))
    def threads_flow():
        return [f.result() for f in double.map([1, 2, 3])]

    if __name__ == "__main__":
        print(processes_flow(), threads_flow())
"""


def test_the_local_dask_executor_examples_run(run_script: RunScript) -> None:
    assert succeeded(run_script(LOCAL_DASK)).stdout.strip() == "[2, 4, 6] [2, 4, 6]"
