"""A task with `task_runner=RayTaskRunner()` inside a flow on the local threads runner."""

from __future__ import annotations

from pathlib import Path

import pytest

import ray_runner_tasks as rt
from taskloom import flow
from taskloom_ray import RayTaskRunner

pytest.importorskip("taskloom_local", reason="the flow's own runner is the concurrent one")
pytestmark = pytest.mark.usefixtures("local_ray")


def test_a_chain_from_ray_to_threads_and_back_is_submitted_before_ray_ends(
    tmp_path: Path,
) -> None:
    on_ray = RayTaskRunner()
    gate = tmp_path / "gate"

    @flow(task_runner="concurrent")
    def across() -> int:
        first = rt.once_there.with_options(task_runner=on_ray).submit(str(gate), 1)
        middle = rt.plus_one.submit(first)
        last = rt.plus_one.with_options(task_runner=on_ray).submit(middle)
        gate.touch()  # reached only if the submissions above did not wait for `first`
        return last.result()

    assert across() == 3
