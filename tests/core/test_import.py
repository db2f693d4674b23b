"""`import taskloom` stays light: no runner plugin, no engine, no event loop, no hook plugin.

Loose sanity bounds only; import cost is measured in the benchmarks.
"""

from __future__ import annotations

import re
import subprocess
import sys

import taskloom

HEAVY = ("taskloom_local", "taskloom_dask", "taskloom_ray", "dask", "distributed", "ray", "asyncio")


def python(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )


def test_import_loads_no_runner_engine_or_event_loop(python_env) -> None:
    done = python(
        python_env,
        "import sys, taskloom\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))",
    )
    assert (done.returncode, done.stdout) == (0, "[]\n"), done.stderr


def test_import_loads_no_hook_plugin(installation, python_env) -> None:
    installation.add(
        "taskloom-noisy", {"taskloom": {"noisy": "noisy_plugin"}}, {"noisy_plugin": "x = 1\n"}
    )
    env = {**python_env, "PYTHONPATH": f"{installation.root}:{python_env['PYTHONPATH']}"}
    done = python(env, "import sys, taskloom; print('noisy_plugin' in sys.modules)")
    assert (done.returncode, done.stdout) == (0, "False\n"), done.stderr


def test_import_takes_well_under_half_a_second(python_env) -> None:
    done = python({**python_env, "PYTHONPROFILEIMPORTTIME": "1"}, "import taskloom")
    assert done.returncode == 0, done.stderr
    cumulative = [
        int(match[1])
        for match in re.finditer(
            r"^import time:\s+\d+ \|\s+(\d+) \| taskloom$", done.stderr, re.MULTILINE
        )
    ]
    assert len(cumulative) == 1
    assert cumulative[0] < 500_000  # microseconds


def test_public_names_are_exactly_the_documented_ones() -> None:
    assert sorted(taskloom.__all__) == [
        "Flow",
        "Parameter",
        "State",
        "Task",
        "TaskloomFuture",
        "TaskloomFutureList",
        "as_completed",
        "available_task_runners",
        "context",
        "flow",
        "get_run_logger",
        "hookimpl",
        "task",
        "unmapped",
        "wait",
    ]


def test_every_public_name_is_importable() -> None:
    for name in taskloom.__all__:
        assert getattr(taskloom, name) is not None


def test_version_is_0_1_0() -> None:
    assert taskloom.__version__ == "0.1.0"


def test_the_testing_extra_brings_what_the_runner_kit_needs() -> None:
    from importlib.metadata import requires

    testing = [r for r in requires("taskloom") or [] if 'extra == "testing"' in r]
    assert any(r.startswith("pytest>=") for r in testing), testing
    assert any(r.startswith("pytest-timeout") for r in testing), testing
