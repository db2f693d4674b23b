"""A task with `task_runner=DaskTaskRunner(...)` inside a flow on the local threads runner."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from taskloom import flow, task
from taskloom_dask import DaskTaskRunner

pytest.importorskip("taskloom_local", reason="the flow's own runner is the concurrent one")


@task
def where(value: int) -> tuple[int, str]:
    try:
        import distributed

        return value, f"dask worker {distributed.get_worker().address}"
    except ValueError:  # not in a Dask worker
        return value, f"thread {threading.current_thread().name}"


def test_a_dask_result_feeds_a_thread_task_and_back(existing_cluster: Any) -> None:
    on_dask = where.with_options(
        task_runner=DaskTaskRunner(address=existing_cluster.scheduler_address)
    )

    @task
    def plus_one(pair: tuple[int, str]) -> int:
        return pair[0] + 1

    @flow(task_runner="concurrent")
    def across() -> tuple[tuple[int, str], int, tuple[int, str]]:
        first = on_dask.submit(1)
        middle = plus_one.submit(first)
        last = on_dask.submit(middle)
        return first.result(), middle.result(), last.result()

    first, middle, last = across()
    assert first[0] == 1 and first[1].startswith("dask worker tcp://127.0.0.1:")
    assert middle == 2
    assert last[0] == 2 and last[1].startswith("dask worker tcp://127.0.0.1:")
