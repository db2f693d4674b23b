"""Seeds 001 and 003 as written, `with Flow(...) as flow:` and all, each run as a script of its
own (their cloud clusters replaced by `LocalCluster`, `prefect` read as `taskloom`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .dask_clusters import CommandLineCluster
from .test_seed_examples import RunScript, log_messages, succeeded

CONSTRUCTOR_OR_LATER = """
    from taskloom import Flow, task
    from taskloom.executors import LocalDaskExecutor

    @task
    def double(x):
        return 2 * x

    # Set executor as part of the constructor
    with Flow("example", executor=LocalDaskExecutor()) as flow:
        doubled = double.map([1, 2, 3])

    # OR set executor as an attribute later
    with Flow("example") as later:
        doubled_later = double.map([4, 5])

    later.executor = LocalDaskExecutor()

    if __name__ == "__main__":
        print(flow.run().result[doubled].result(), later.run().result[doubled_later].result())
"""


def test_the_executor_goes_in_the_constructor_or_is_set_later(run_script: RunScript) -> None:
    done = succeeded(run_script(CONSTRUCTOR_OR_LATER))
    assert done.stdout.strip() == "[2, 4, 6] [8, 10]"
    assert log_messages(done.stderr).count("Starting executor `LocalDaskExecutor`...") == 2


LOCAL_DASK_SCHEDULERS = """
    import os
    from taskloom import Flow, task
    from taskloom.executors import LocalDaskExecutor

    @task
    def pid(_):
        return os.getpid()

    with Flow("schedulers") as flow:
        pids = pid.map(range(6))

    if __name__ == "__main__":
        # Use 8 threads
        flow.executor = LocalDaskExecutor(scheduler="threads", num_workers=8)
        threads = set(flow.run().result[pids].result())
        # Use 2 processes
        flow.executor = LocalDaskExecutor(scheduler="processes", num_workers=2)
        processes = set(flow.run().result[pids].result())
        print(threads == {os.getpid()}, os.getpid() not in processes, len(processes) <= 2)
"""


def test_local_dask_runs_on_threads_or_processes_with_num_workers(run_script: RunScript) -> None:
    assert succeeded(run_script(LOCAL_DASK_SCHEDULERS)).stdout.split() == ["True"] * 3


LOCAL_EXECUTOR = """
    import threading
    from taskloom import Flow, task
    from taskloom.executors import LocalExecutor

    @task
    def where(_):
        return threading.current_thread() is threading.main_thread()

    with Flow("local") as flow:
        here = where.map(range(3))

    flow.executor = LocalExecutor()

    if __name__ == "__main__":
        print(flow.run().result[here].result())
"""


def test_the_local_executor_runs_every_task_in_the_flows_own_thread(
    run_script: RunScript,
) -> None:
    # Seed 003's LocalExecutor: the default, no-frills executor, each task run in turn.
    pytest.importorskip("taskloom_local", reason="LocalExecutor is the sequential runner")
    done = succeeded(run_script(LOCAL_EXECUTOR))
    assert done.stdout.strip() == "[True, True, True]"
    # LocalExecutor is the SequentialExecutor by another name, and logs as that one.
    assert "Starting executor `SequentialExecutor`..." in log_messages(done.stderr)


DEFAULT_DASK_EXECUTOR = """
    from distributed import get_client, get_worker
    from taskloom import Flow, task
    from taskloom.executors import DaskExecutor

    @task
    def shape():
        return len(get_client().scheduler_info()["workers"]), get_worker().state.nthreads

    with Flow("temporary-local") as flow:
        s = shape()

    if __name__ == "__main__":
        # By default this will use a temporary local Dask cluster
        flow.executor = DaskExecutor()
        print(flow.run().is_completed())
        # Use 4 worker processes, each with 2 threads
        flow.executor = DaskExecutor(
            cluster_kwargs={"n_workers": 4, "threads_per_worker": 2}
        )
        print(flow.run().result[s].result())
"""


def test_a_plain_dask_executor_and_one_sized_by_cluster_kwargs(run_script: RunScript) -> None:
    # Seed 001's `DaskExecutor()` and seed 003's two temporary local clusters.
    done = succeeded(run_script(DEFAULT_DASK_EXECUTOR))
    assert done.stdout.split("\n")[:2] == ["True", "(4, 2)"]
    assert log_messages(done.stderr).count("Starting executor `DaskExecutor`...") == 2


CLUSTER_CLASSES = """
    import os
    import distributed
    import taskloom
    from taskloom import Flow, task
    from taskloom.executors import DaskExecutor

    @task
    def workers():
        return len(distributed.get_client().scheduler_info()["workers"])

    with Flow("temporary") as flow:
        count = workers()

    def local_cluster(n_workers=4):
        \"\"\"Start a cluster using the same image as the flow run\"\"\"
        print("image:", taskloom.context.image)
        return distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, dashboard_address=None
        )

    if __name__ == "__main__":
        os.environ["TASKLOOM_IMAGE"] = "flows-image:1.0"  # as the flow run's deployment sets it
        for cluster_class in ("distributed.LocalCluster", distributed.LocalCluster):
            flow.executor = DaskExecutor(
                cluster_class=cluster_class, cluster_kwargs={"n_workers": 2}
            )
            print(flow.run().result[count].result())
        flow.executor = DaskExecutor(cluster_class=local_cluster, cluster_kwargs={"n_workers": 1})
        print(flow.run().result[count].result())
        flow.executor = DaskExecutor(
            cluster_class="distributed.LocalCluster",
            cluster_kwargs={"n_workers": 0},
            adapt_kwargs={"minimum": 1, "maximum": 2},
        )
        print(flow.run().result[count].result() >= 1)
"""


def test_a_temporary_cluster_from_a_string_a_class_or_a_function(run_script: RunScript) -> None:
    done = succeeded(run_script(CLUSTER_CLASSES))
    assert done.stdout.split("\n")[:5] == ["2", "2", "image: flows-image:1.0", "1", "True"]


EXISTING = """
    import sys
    from taskloom import Flow, task
    from taskloom.executors import DaskExecutor

    @task
    def hello():
        return "hi"

    with Flow("existing") as flow:
        x = hello()

    # Connect to an existing cluster running at a specified address
    flow.executor = DaskExecutor(address=sys.argv[1])

    if __name__ == "__main__":
        print(flow.run().result[x].result())
"""


# Seed 003 writes the address with its scheme (`tcp://...`), seed 001 without (`host:8786`).
@pytest.mark.parametrize("scheme", ["tcp://", ""], ids=["tcp-address", "bare-host-port"])
def test_a_graph_flow_connects_to_an_existing_cluster(
    run_script: RunScript, command_line_cluster: CommandLineCluster, scheme: str
) -> None:
    # A cluster somebody started with `dask scheduler` and `dask worker`, as the seeds' is.
    address = scheme + command_line_cluster.address.removeprefix("tcp://")
    done = succeeded(run_script(EXISTING, address))
    assert done.stdout.strip() == "hi"
    assert "Creating a new Dask cluster" not in done.stderr


PERFORMANCE_REPORT = """
    # performance_report_flow.py
    import io
    import os
    import sys
    from taskloom.executors import DaskExecutor
    from taskloom import Flow, task
    from taskloom.engine.state import State
    from typing import Set, Optional

    def custom_terminal_state_handler(
        flow: Flow,
        state: State,
        reference_task_states: Set[State],
    ) -> Optional[State]:
        # get the html report as a string
        report = flow.executor.performance_report

        # now we can write it anywhere: here, a second file
        report_data = io.BytesIO(report.encode())
        with open(sys.argv[2], "wb") as elsewhere:
            elsewhere.write(report_data.getvalue())

    # define a simple task and flow
    @task
    def hello():
        return "hi"

    with Flow('performance_report') as flow:
        x = hello()

    # specify where the executor should write the performance report
    flow.executor = DaskExecutor(performance_report_path=sys.argv[1])

    # specify a terminal state handler for custom logic
    flow.terminal_state_handler = custom_terminal_state_handler

    if __name__ == "__main__":
        print(flow.run())
"""


def test_the_performance_report_reaches_the_terminal_state_handler(
    run_script: RunScript, tmp_path: Path
) -> None:
    report, elsewhere = tmp_path / "performance_report.html", tmp_path / "copy.html"
    done = succeeded(run_script(PERFORMANCE_REPORT, str(report), str(elsewhere)))
    assert done.stdout.strip() == "Completed(message='All states completed.', type=COMPLETED)"
    assert report.read_text().startswith("<!DOCTYPE html>") or report.stat().st_size > 0
    assert elsewhere.read_bytes() == report.read_bytes()


EXECUTOR_WORDS = """
    from taskloom import flow, task
    from taskloom.executors import DaskExecutor, SequentialExecutor

    @task
    def hello_local():
        print("Hello!")

    @task
    def hello_dask():
        print("Hello from Dask!")

    @flow(executor=SequentialExecutor)
    def my_flow():
        hello_local()
        my_subflow()
        hello_local()

    @flow(executor=DaskExecutor)
    def my_subflow():
        hello_dask()

    my_flow()
"""


def test_the_headline_example_runs_verbatim_and_logs_the_seeds_lines(
    run_script: RunScript,
) -> None:
    """Seed 000's script as written: no `__main__` guard, a temporary cluster of worker
    processes, which must not run the script (and its flow) again."""
    pytest.importorskip("taskloom_local", reason="the seed's parent flow is sequential")
    done = succeeded(run_script(EXECUTOR_WORDS))
    assert sorted(done.stdout.split()[:4]) == sorted(["Hello!", "Hello", "from", "Dask!"])
    patterns = [
        r"Beginning flow run '[a-z]+-[a-z]+' for flow 'my-flow'\.\.\.",
        r"Starting executor `SequentialExecutor`\.\.\.",
        r"Submitting task run 'hello_local-[0-9a-f]{8}-0' to executor\.\.\.",
        r"Task run 'hello_local-[0-9a-f]{8}-0' finished in state "
        r"Completed\(message=None, type=COMPLETED\)",
        r"Beginning subflow run '[a-z]+-[a-z]+' for flow 'my-subflow'\.\.\.",
        r"Starting executor `DaskExecutor`\.\.\.",
        r"Creating a new Dask cluster with `distributed\.deploy\.local\.LocalCluster`",
        r"The Dask dashboard is available at http://127\.0\.0\.1:\d+/status",
        r"Submitting task run 'hello_dask-[0-9a-f]{8}-0' to executor\.\.\.",
        r"Task run 'hello_dask-[0-9a-f]{8}-0' finished in state "
        r"Completed\(message=None, type=COMPLETED\)",
        r"Shutting down executor `DaskExecutor`\.\.\.",
        r"Subflow run '[a-z]+-[a-z]+' finished in state "
        r"Completed\(message='All states completed\.', type=COMPLETED\)",
        r"Submitting task run 'hello_local-[0-9a-f]{8}-1' to executor\.\.\.",
        r"Task run 'hello_local-[0-9a-f]{8}-1' finished in state "
        r"Completed\(message=None, type=COMPLETED\)",
        r"Shutting down executor `SequentialExecutor`\.\.\.",
        r"Flow run '[a-z]+-[a-z]+' finished in state "
        r"Completed\(message='All states completed\.', type=COMPLETED\)",
    ]
    messages = log_messages(done.stderr)
    assert len(messages) == len(patterns), messages
    for pattern, message in zip(patterns, messages, strict=True):
        assert re.fullmatch(pattern, message), (pattern, message)
    assert done.stdout.count("Hello from Dask!") == 1


SEED_FILE = """
    # performance_report_flow.py
    import os
    from taskloom.executors import DaskExecutor
    from taskloom import Flow, task

    # define a simple task and flow
    @task
    def hello():
      return "hi"

    with Flow('performance_report') as flow:
      x = hello()

    # specify where the executor should write the performance report
    flow.executor = DaskExecutor(performance_report_path=os.environ["REPORT_PATH"])
"""


def test_taskloom_run_runs_the_seed_file(tmp_path: Path, python_env: dict[str, str]) -> None:
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "performance_report_flow.py"
    script.write_text(textwrap.dedent(SEED_FILE))
    report = tmp_path / "performance_report.html"
    done = subprocess.run(
        [sys.executable, "-m", "taskloom", "run", "-p", str(script)],
        env={**python_env, "REPORT_PATH": str(report)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "Completed(message='All states completed.', type=COMPLETED)"
    assert report.stat().st_size > 0


ADDRESS_FLOW = """
    from distributed import get_worker
    from taskloom import Flow, task

    @task
    def worker_name():
        return get_worker().name

    with Flow("anywhere") as flow:
        name = worker_name()
"""


def test_taskloom_run_sends_a_flow_to_an_existing_cluster_by_its_bare_address(
    tmp_path: Path, python_env: dict[str, str], command_line_cluster: CommandLineCluster
) -> None:
    # `--task-runner host:port` overrides the flow's own runner (none here: the default), the
    # address written as seed 001 writes it, without a scheme.
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "anywhere.py"
    script.write_text(textwrap.dedent(ADDRESS_FLOW))
    bare = command_line_cluster.address.removeprefix("tcp://")
    done = subprocess.run(
        [sys.executable, "-m", "taskloom", "run", "-p", str(script), "--task-runner", bare],
        env=python_env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Starting task runner `DaskTaskRunner`..." in log_messages(done.stderr)
    assert "Creating a new Dask cluster" not in done.stderr
