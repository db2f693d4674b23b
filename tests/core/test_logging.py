"""Logs: the lines a flow run writes, in order and in the seeds' words; run loggers; the console
line format."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from taskloom import flow, get_run_logger, task
from taskloom._logging import level_setting
from taskloom.exceptions import MissingContextError
from taskloom.testing import InlineTaskRunner


class SubflowTaskRunner(InlineTaskRunner):
    pass


@task
def hello_local() -> None:
    print("Hello!")


@task
def hello_elsewhere() -> None:
    print("Hello from elsewhere!")


@flow(task_runner=SubflowTaskRunner())
def my_subflow() -> None:
    hello_elsewhere()


@flow(task_runner=InlineTaskRunner())
def my_flow() -> None:
    hello_local()
    my_subflow()
    hello_local()


def test_flow_with_a_subflow_logs_the_seed_lines_in_order(taskloom_log) -> None:
    my_flow()
    messages = taskloom_log.messages
    flow_run = re.fullmatch(r"Beginning flow run '(.+)' for flow 'my-flow'\.\.\.", messages[0])
    subflow_run = re.fullmatch(
        r"Beginning subflow run '(.+)' for flow 'my-subflow'\.\.\.", messages[4]
    )
    assert flow_run and subflow_run
    local = f"hello_local-{hello_local.key}"
    elsewhere = f"hello_elsewhere-{hello_elsewhere.key}"
    completed = "Completed(message=None, type=COMPLETED)"
    all_completed = "Completed(message='All states completed.', type=COMPLETED)"
    assert messages == [
        f"Beginning flow run '{flow_run[1]}' for flow 'my-flow'...",
        "Starting task runner `InlineTaskRunner`...",
        f"Submitting task run '{local}-0' to task runner...",
        f"Task run '{local}-0' finished in state {completed}",
        f"Beginning subflow run '{subflow_run[1]}' for flow 'my-subflow'...",
        "Starting task runner `SubflowTaskRunner`...",
        f"Submitting task run '{elsewhere}-0' to task runner...",
        f"Task run '{elsewhere}-0' finished in state {completed}",
        "Shutting down task runner `SubflowTaskRunner`...",
        f"Subflow run '{subflow_run[1]}' finished in state {all_completed}",
        f"Submitting task run '{local}-1' to task runner...",
        f"Task run '{local}-1' finished in state {completed}",
        "Shutting down task runner `InlineTaskRunner`...",
        f"Flow run '{flow_run[1]}' finished in state {all_completed}",
    ]


def test_failed_flow_logs_its_failed_state(taskloom_log) -> None:
    @flow(task_runner=InlineTaskRunner())
    def fails() -> None:
        raise ValueError("bad")

    fails(return_state=True)
    assert re.fullmatch(
        r"Flow run '.+' finished in state Failed\(message='Flow run encountered an exception: "
        r"ValueError: bad', type=FAILED\)",
        taskloom_log.messages[-1],
    )


def test_task_logs_go_to_the_taskloom_logger(taskloom_log) -> None:
    @flow(task_runner=InlineTaskRunner())
    def logs() -> None:
        hello_local()

    logs()
    assert all(record.name == "taskloom" for record in taskloom_log.records)
    assert all(record.levelno == logging.INFO for record in taskloom_log.records)


# -- run loggers --------------------------------------------------------------------------------


def test_run_logger_in_a_flow_names_the_flow_run(taskloom_log) -> None:
    @flow(task_runner=InlineTaskRunner())
    def logs() -> None:
        get_run_logger().info("inside the flow")

    logs()
    flow_run = re.fullmatch(
        r"Beginning flow run '(.+)' for flow 'logs'\.\.\.", taskloom_log.messages[0]
    )
    assert flow_run
    assert f"Flow run '{flow_run[1]}' - inside the flow" in taskloom_log.messages


def test_run_logger_in_a_task_names_the_task_run(taskloom_log) -> None:
    @task
    def logs_inside() -> None:
        get_run_logger().warning("inside the task")

    @flow(task_runner=InlineTaskRunner())
    def logs() -> str:
        return logs_inside.submit().task_run_name

    name = logs()
    [record] = [r for r in taskloom_log.records if "inside the task" in r.getMessage()]
    assert record.getMessage() == f"Task run '{name}' - inside the task"
    assert record.levelno == logging.WARNING
    assert record.task_run_name == name  # type: ignore[attr-defined]


def test_run_logger_outside_a_run_raises_missing_context_error() -> None:
    with pytest.raises(MissingContextError, match="outside of a flow run or task run"):
        get_run_logger()


def test_missing_context_error_is_a_runtime_error() -> None:
    assert issubclass(MissingContextError, RuntimeError)


# -- the console ----------------------------------------------------------------------------------


SCRIPT = """
    from taskloom import flow, task
    from taskloom.testing import InlineTaskRunner

    @task
    def hello():
        print("Hello!")

    @flow(task_runner=InlineTaskRunner())
    def my_flow():
        hello()

    if __name__ == "__main__":
        my_flow()
"""


def _run_script(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    return subprocess.run(
        [sys.executable, str(script)],
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )


def test_console_lines_are_time_bar_message_on_stderr(tmp_path: Path, python_env) -> None:
    done = _run_script(tmp_path, python_env)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 6
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} \| .+", line) for line in lines)
    assert lines[0].split(" | ")[1].startswith("Beginning flow run '")
    assert done.stdout == "Hello!\n"


def test_console_logging_level_comes_from_the_environment(tmp_path: Path, python_env) -> None:
    done = _run_script(tmp_path, {**python_env, "TASKLOOM_LOGGING_LEVEL": "WARNING"})
    assert (done.returncode, done.stderr) == (0, "")


def test_handler_attached_before_the_first_flow_run_gets_the_lines(
    tmp_path: Path, python_env
) -> None:
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            """
            import logging
            from taskloom import flow
            from taskloom.testing import InlineTaskRunner

            lines = []
            handler = logging.Handler()
            handler.emit = lambda record: lines.append(record.getMessage())
            logging.getLogger("taskloom").addHandler(handler)

            @flow(task_runner=InlineTaskRunner())
            def my_flow():
                pass

            my_flow()
            print(lines[0].split("'")[0], len(lines))
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        env=python_env,
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert done.stdout == "Beginning flow run  4\n", done.stderr


@pytest.mark.parametrize(
    ("value", "level"),
    [("10", 10), ("debug", 10), ("Warning", 30), ("warn", 30), (" ERROR ", 40), ("", 20)],
)
def test_the_logging_level_takes_names_in_any_case_and_numbers(value: str, level: int) -> None:
    assert level_setting({"TASKLOOM_LOGGING_LEVEL": value}) == level


def test_an_unset_logging_level_is_info() -> None:
    assert level_setting({}) == logging.INFO


def test_a_bad_logging_level_is_an_error_naming_the_variable_and_the_accepted_values() -> None:
    with pytest.raises(ValueError, match=r"TASKLOOM_LOGGING_LEVEL='LOUD'.*DEBUG, INFO.*number"):
        level_setting({"TASKLOOM_LOGGING_LEVEL": "LOUD"})
