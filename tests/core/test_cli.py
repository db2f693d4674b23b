"""`python -m taskloom`: list the installed runners, show what a runner string resolves to."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest


@pytest.fixture
def cli_env(installation, python_env) -> dict[str, str]:
    """The subprocess sees the real installation plus an `inline` runner distribution."""
    installation.add(
        "inline-runner",
        {"taskloom.task_runners": {"inline": "taskloom.testing:InlineTaskRunner"}},
    )
    return {**python_env, "PYTHONPATH": f"{installation.root}:{python_env['PYTHONPATH']}"}


def taskloom_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taskloom", *args],
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )


def test_runners_lists_each_installed_runner_with_its_target(cli_env) -> None:
    done = taskloom_cli(cli_env, "runners")
    assert done.returncode == 0, done.stderr
    line = r"^inline +taskloom\.testing:InlineTaskRunner +inline-runner 1\.0$"
    assert re.search(line, done.stdout, re.MULTILINE)


def test_runners_shows_why_a_broken_plugin_cannot_be_used_and_lists_the_others(
    cli_env, installation
) -> None:
    installation.add(
        "broken-runner",
        {"taskloom.task_runners": {"broken": "broken_runner:Runner"}},
        {"broken_runner": "raise RuntimeError('this plugin is broken')\n"},
    )
    done = taskloom_cli(cli_env, "runners")
    assert done.returncode == 1
    assert re.search(r"^broken +broken_runner:Runner +broken-runner 1\.0$", done.stdout, re.M)
    assert "cannot be used:" in done.stdout
    assert "RuntimeError: this plugin is broken" in done.stdout
    assert re.search(r"^inline +taskloom\.testing:InlineTaskRunner", done.stdout, re.M)


def test_version_lists_the_core_and_each_plugin(cli_env) -> None:
    done = taskloom_cli(cli_env, "--version")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"taskloom \S+", lines[0])
    assert "inline-runner 1.0" in lines


def test_resolve_of_an_import_path_to_a_non_runner_is_a_clear_error(cli_env) -> None:
    done = taskloom_cli(cli_env, "resolve", "os.path:join")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "os.path:join is <function join" in done.stderr
    assert "not a TaskRunner subclass" in done.stderr


def test_resolve_prints_the_runner_a_name_means(cli_env) -> None:
    done = taskloom_cli(cli_env, "resolve", "INLINE")
    assert (done.returncode, done.stdout) == (0, "InlineTaskRunner()\n")


def test_resolve_accepts_an_import_path(cli_env) -> None:
    done = taskloom_cli(cli_env, "resolve", "taskloom.testing:InlineTaskRunner")
    assert (done.returncode, done.stdout) == (0, "InlineTaskRunner()\n")


def test_resolve_of_an_unknown_name_exits_1_with_the_message(cli_env) -> None:
    done = taskloom_cli(cli_env, "resolve", "nope")
    assert done.returncode == 1
    assert done.stdout == ""
    assert re.fullmatch(
        r"taskloom: Unknown task runner 'nope'\. Installed task runners: .*inline.*\.\n",
        done.stderr,
    )


def test_missing_command_is_a_usage_error(cli_env) -> None:
    done = taskloom_cli(cli_env)
    assert done.returncode == 2
    assert "usage: taskloom" in done.stderr


GRAPH_FILE = """
from taskloom import Flow, Parameter, task

@task
def greet(name):
    print("hello", name)
    return name

with Flow("greeting", task_runner="inline") as flow:
    greet(Parameter("name", default="world"))

if __name__ == "__main__":
    raise SystemExit("the main guard ran")
"""

TWO_FLOWS = """
from taskloom import flow, task

@task
def fail():
    raise ValueError("no")

@flow(task_runner="inline")
def good(x: int = 1) -> int:
    return x

@flow(task_runner="inline")
def bad() -> None:
    fail()
"""


def write(tmp_path, source: str, name: str = "flows.py") -> str:
    path = tmp_path / name
    path.write_text(source)
    return str(path)


def test_run_path_runs_the_only_flow_and_prints_its_final_state(cli_env, tmp_path) -> None:
    done = taskloom_cli(cli_env, "run", "-p", write(tmp_path, GRAPH_FILE))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == [
        "hello world",
        "Completed(message='All states completed.', type=COMPLETED)",
    ]


def test_run_takes_parameters_as_key_value(cli_env, tmp_path) -> None:
    done = taskloom_cli(cli_env, "run", "-p", write(tmp_path, GRAPH_FILE), "--param", "name=ada")
    assert "hello ada" in done.stdout, done.stderr


def test_run_reads_a_parameter_value_as_json(cli_env, tmp_path) -> None:
    path = write(tmp_path, TWO_FLOWS)
    done = taskloom_cli(cli_env, "run", "-p", path, "--name", "good", "--param", "x=41")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("type=COMPLETED)")


def test_run_with_several_flows_needs_a_name_and_lists_them(cli_env, tmp_path) -> None:
    done = taskloom_cli(cli_env, "run", "-p", write(tmp_path, TWO_FLOWS))
    assert done.returncode == 2
    assert "defines 2 flows; pick one with --name: 'bad', 'good'" in done.stderr


def test_run_exits_non_zero_when_the_flow_did_not_complete(cli_env, tmp_path) -> None:
    done = taskloom_cli(cli_env, "run", "-p", write(tmp_path, TWO_FLOWS), "--name", "bad")
    assert done.returncode == 1
    assert done.stdout.strip().startswith("Failed(message='Flow run encountered an exception")


def test_run_overrides_the_flows_runner(cli_env, tmp_path) -> None:
    own_runner = "from taskloom.testing import InlineTaskRunner\nclass Own(InlineTaskRunner): ...\n"
    source = own_runner + GRAPH_FILE.replace('task_runner="inline"', "task_runner=Own")
    path = write(tmp_path, source)
    assert "Starting task runner `Own`..." in taskloom_cli(cli_env, "run", "-p", path).stderr
    done = taskloom_cli(cli_env, "run", "-p", path, "--executor", "inline")
    assert done.returncode == 0, done.stderr
    assert "Starting executor `InlineTaskRunner`..." in done.stderr


def test_run_of_a_file_that_fails_to_load_says_why_without_a_traceback(cli_env, tmp_path) -> None:
    path = write(tmp_path, GRAPH_FILE.replace('task_runner="inline"', 'task_runner="nowhere"'))
    done = taskloom_cli(cli_env, "run", "-p", path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert re.search(r"flows\.py failed to load: UnknownTaskRunnerError: .*'nowhere'", done.stderr)


def test_run_module_imports_the_flow_from_a_module(cli_env, tmp_path) -> None:
    write(tmp_path, TWO_FLOWS, "my_flows.py")
    env = {**cli_env, "PYTHONPATH": f"{tmp_path}:{cli_env['PYTHONPATH']}"}
    done = taskloom_cli(env, "run", "-m", "my_flows", "--name", "good")
    assert done.returncode == 0, done.stderr


def test_run_of_a_file_without_flows_says_so(cli_env, tmp_path) -> None:
    done = taskloom_cli(cli_env, "run", "-p", write(tmp_path, "x = 1\n"))
    assert done.returncode == 2
    assert "defines no flow" in done.stderr
