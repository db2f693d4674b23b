"""The local runners as installed plugins: their names, class names, the default, the older
executor names and the command line (needs `taskloom-local` installed, for its entry points)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import taskloom
import taskloom_local
from taskloom import flow
from taskloom._registry import resolve_task_runner

pytestmark = pytest.mark.usefixtures("no_runner_from_environment")


@pytest.fixture
def no_runner_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKLOOM_TASK_RUNNER", raising=False)


def test_local_runners_are_listed_as_installed() -> None:
    installed = taskloom.available_task_runners()
    targets = {name: installed.get(name, "") for name in ("sequential", "concurrent", "processes")}
    assert {name: target.split(":")[-1] for name, target in targets.items()} == {
        "sequential": "SequentialTaskRunner",
        "concurrent": "ConcurrentTaskRunner",
        "processes": "ProcessPoolTaskRunner",
    }
    assert all(target.startswith("taskloom_local") for target in targets.values())


@pytest.mark.parametrize(
    ("spec", "cls"),
    [
        ("sequential", taskloom_local.SequentialTaskRunner),
        ("Concurrent", taskloom_local.ConcurrentTaskRunner),
        ("PROCESSES", taskloom_local.ProcessPoolTaskRunner),
        ("ProcessPoolTaskRunner", taskloom_local.ProcessPoolTaskRunner),
        ("taskloom_local:SequentialTaskRunner", taskloom_local.SequentialTaskRunner),
    ],
)
def test_local_runner_resolves_by_name(spec: str, cls: type) -> None:
    assert type(resolve_task_runner(spec)) is cls


def test_default_task_runner_is_the_concurrent_runner() -> None:
    @flow
    def default() -> None:
        pass

    assert type(default.task_runner) is taskloom_local.ConcurrentTaskRunner


def test_environment_variable_picks_the_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKLOOM_TASK_RUNNER", "sequential")

    @flow
    def from_environment() -> None:
        pass

    assert type(from_environment.task_runner) is taskloom_local.SequentialTaskRunner


def test_runner_classes_import_from_taskloom_task_runners() -> None:
    from taskloom.task_runners import (
        ConcurrentTaskRunner,
        ProcessPoolTaskRunner,
        SequentialTaskRunner,
    )

    assert (SequentialTaskRunner, ConcurrentTaskRunner, ProcessPoolTaskRunner) == (
        taskloom_local.SequentialTaskRunner,
        taskloom_local.ConcurrentTaskRunner,
        taskloom_local.ProcessPoolTaskRunner,
    )


def test_local_and_sequential_executors_are_the_sequential_runner() -> None:
    from taskloom.executors import LocalExecutor, SequentialExecutor

    assert LocalExecutor is SequentialExecutor is taskloom_local.SequentialTaskRunner


def test_seed_example_with_an_executor_class_runs() -> None:
    from taskloom.executors import SequentialExecutor

    @flow(executor=SequentialExecutor)
    def my_flow() -> str:
        return "ran"

    assert my_flow() == "ran"


def test_command_line_lists_the_local_runners(python_env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "taskloom", "runners"],
        env=python_env,
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    columns = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines()}
    assert columns["processes"][0].endswith(":ProcessPoolTaskRunner")
    assert columns["sequential"][0].endswith(":SequentialTaskRunner")
    assert columns["concurrent"][0].endswith(":ConcurrentTaskRunner")
    assert columns["sequential"][1] == "taskloom-local"


def test_command_line_resolves_a_local_runner(python_env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "taskloom", "resolve", "sequential"],
        env=python_env,
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "SequentialTaskRunner()\n"), done.stderr
