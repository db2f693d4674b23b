"""The seeds' example (a sequential flow with a subflow on another runner) logs the seeds' lines,
in order, through the logger and on the console."""

from __future__ import annotations

import re

from taskloom import flow, task
from taskloom._names import task_key
from taskloom_local import ConcurrentTaskRunner, SequentialTaskRunner


@task
def hello_local() -> None:
    print("Hello!")


@task
def hello_concurrent() -> None:
    print("Hello from a thread!")


@flow(task_runner=ConcurrentTaskRunner())
def concurrent_subflow() -> None:
    hello_concurrent()


@flow(task_runner=SequentialTaskRunner())
def sequential_flow() -> None:
    hello_local()
    concurrent_subflow()
    hello_local()


def expected_lines(flow_run: str, subflow_run: str, module: str = __name__) -> list[str]:
    local = f"hello_local-{task_key(module, 'hello_local')}"
    concurrent = f"hello_concurrent-{task_key(module, 'hello_concurrent')}"
    completed = "Completed(message=None, type=COMPLETED)"
    all_completed = "Completed(message='All states completed.', type=COMPLETED)"
    return [
        f"Beginning flow run '{flow_run}' for flow 'sequential-flow'...",
        "Starting task runner `SequentialTaskRunner`...",
        f"Submitting task run '{local}-0' to task runner...",
        f"Task run '{local}-0' finished in state {completed}",
        f"Beginning subflow run '{subflow_run}' for flow 'concurrent-subflow'...",
        "Starting task runner `ConcurrentTaskRunner`...",
        f"Submitting task run '{concurrent}-0' to task runner...",
        f"Task run '{concurrent}-0' finished in state {completed}",
        "Shutting down task runner `ConcurrentTaskRunner`...",
        f"Subflow run '{subflow_run}' finished in state {all_completed}",
        f"Submitting task run '{local}-1' to task runner...",
        f"Task run '{local}-1' finished in state {completed}",
        "Shutting down task runner `SequentialTaskRunner`...",
        f"Flow run '{flow_run}' finished in state {all_completed}",
    ]


def run_names(lines: list[str]) -> tuple[str, str]:
    first = re.search(r"flow run '(.+?)'", lines[0])
    second = re.search(r"subflow run '(.+?)'", lines[4])
    assert first and second, lines
    return first[1], second[1]


def test_seed_example_logs_the_seed_lines_in_order(taskloom_log) -> None:
    sequential_flow()
    assert taskloom_log.messages == expected_lines(*run_names(taskloom_log.messages))


SCRIPT = """
    from taskloom import flow, task
    from taskloom_local import ConcurrentTaskRunner, SequentialTaskRunner

    @task
    def hello_local():
        print("Hello!")

    @task
    def hello_concurrent():
        print("Hello from a thread!")

    @flow(task_runner=ConcurrentTaskRunner())
    def concurrent_subflow():
        hello_concurrent()

    @flow(task_runner=SequentialTaskRunner())
    def sequential_flow():
        hello_local()
        concurrent_subflow()
        hello_local()

    if __name__ == "__main__":
        sequential_flow()
"""


def test_seed_example_prints_the_seed_lines_on_the_console_in_order(run_script) -> None:
    done = run_script(SCRIPT)
    assert done.returncode == 0, done.stderr
    stamped = [
        re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} \| (.*)", line) for line in done.stderr.splitlines()
    ]
    assert all(stamped), done.stderr
    messages = [match[1] for match in stamped if match]
    assert messages == expected_lines(*run_names(messages), module="__main__")
    assert done.stdout == "Hello!\nHello from a thread!\nHello!\n"
