"""The sequential runner: every task run, sync or async, in the flow's thread, in order."""

from __future__ import annotations

import asyncio
import threading

from taskloom import flow, task
from taskloom_local import SequentialTaskRunner

ORDER: list[str] = []


@task
def record(label: str) -> int:
    ORDER.append(label)
    return threading.get_ident()


@task
async def async_record(label: str) -> int:
    await asyncio.sleep(0.01 if label.endswith("slow") else 0)
    ORDER.append(label)
    return threading.get_ident()


def test_tasks_run_in_the_flows_thread() -> None:
    @flow(task_runner=SequentialTaskRunner())
    def where() -> tuple[int, int]:
        return threading.get_ident(), record("x")

    flow_thread, task_thread = where()
    assert task_thread == flow_thread


def test_sync_and_async_tasks_run_in_submission_order() -> None:
    ORDER.clear()

    @flow(task_runner=SequentialTaskRunner())
    def ordered() -> None:
        async_record.submit("first slow")
        record.submit("second")
        async_record.submit("third slow")
        async_record.submit("fourth")

    ordered()
    assert ORDER == ["first slow", "second", "third slow", "fourth"]


def test_submit_returns_a_finished_future() -> None:
    @flow(task_runner=SequentialTaskRunner())
    def finished() -> bool:
        return record.submit("x").done()

    assert finished() is True
