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
    assert re.search(r"^inline +taskloom\.testing:InlineTaskRunner$", done.stdout, re.MULTILINE)


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
