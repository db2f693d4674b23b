"""The README's Ray example runs as shown: a sequential flow with a subflow on a temporary Ray."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ray_clusters import ray_environment

README = Path(__file__).parents[2] / "plugins" / "ray-runner" / "README.md"


def _example() -> str:
    section = README.read_text().split("## Using multiple task runners", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)  # type: ignore[union-attr]


def test_the_readme_subflow_example_logs_what_the_readme_shows(tmp_path: Path) -> None:
    pytest.importorskip("taskloom_local", reason="the example's parent flow is sequential")
    script = tmp_path / "example.py"
    script.write_text(_example())
    done = subprocess.run(
        [sys.executable, str(script)],
        env=ray_environment(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    lines = [re.sub(r"^\d\d:\d\d:\d\d\.\d{3} \| ", "", line) for line in done.stderr.splitlines()]
    expected_in_order = [
        "Starting task runner `SequentialTaskRunner`...",
        "Beginning subflow run",
        "Starting task runner `RayTaskRunner`...",
        "Creating a local Ray instance",
        "Submitting task run 'hello_ray-",
        "Task run 'hello_ray-",
        "Shutting down task runner `RayTaskRunner`...",
        "Subflow run",
        "Shutting down task runner `SequentialTaskRunner`...",
        "Flow run",
    ]
    positions = [
        next(i for i, line in enumerate(lines) if line.startswith(prefix))
        for prefix in expected_in_order
    ]
    assert positions == sorted(positions), done.stderr
    assert done.stdout.count("Hello!") == 2
    assert "Hello from Ray!" in done.stdout
