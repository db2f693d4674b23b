"""What reaches the Dask scheduler with each task run, and how values travel."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dask

from dask_clusters import IN_PROCESS_CLUSTER, CommandLineCluster
from dask_runner_tasks import (
    add,
    chain_inside,
    dask_key,
    fail_until,
    make_tripwire,
    map_and_wait,
    needs_a_gpu,
    payload_size,
    submit_and_wait,
    worker_address,
)
from taskloom import flow
from taskloom_dask import DaskTaskRunner

ONE_THREAD = IN_PROCESS_CLUSTER | {"threads_per_worker": 1}


def scheduler_task(cluster: Any, key: str) -> Any:
    return cluster.scheduler.tasks[key]


def test_annotations_around_submit_reach_the_scheduler(existing_cluster: Any) -> None:
    seen: dict[str, Any] = {}

    @flow(task_runner=DaskTaskRunner(address=existing_cluster.scheduler_address))
    def annotated() -> None:
        with dask.annotate(priority=10, retries=2):
            key = dask_key.submit().result()
        plain_key = dask_key.submit().result()
        ts, plain = (scheduler_task(existing_cluster, k) for k in (key, plain_key))
        seen.update(priority=ts.priority[0], retries=ts.retries, plain=plain.priority[0])

    annotated()
    assert (seen["priority"], seen["retries"], seen["plain"]) == (-10, 2, 0)


def test_the_dask_retries_annotation_reruns_a_failing_run(tmp_path: Path) -> None:
    counter = tmp_path / "attempts"

    @flow(task_runner=DaskTaskRunner(cluster_kwargs=IN_PROCESS_CLUSTER))
    def flaky() -> int:
        with dask.annotate(retries=2):
            return fail_until.submit(counter, 3).result()  # type: ignore[no-any-return]

    assert flaky() == 3


def test_resource_tags_and_annotations_place_runs_on_the_worker_that_has_it(
    command_line_cluster: CommandLineCluster,
) -> None:
    @flow(task_runner=DaskTaskRunner(address=command_line_cluster.address))
    def placed() -> tuple[set[str], set[str]]:
        tagged = {f.result() for f in [needs_a_gpu.submit() for _ in range(6)]}
        with dask.annotate(resources={"GPU": 1}):
            annotated = {f.result() for f in [worker_address.submit() for _ in range(6)]}
        return tagged, annotated

    tagged, annotated = placed()
    assert tagged == {command_line_cluster.gpu_worker}
    assert annotated == {command_line_cluster.gpu_worker}


def test_dask_keys_start_with_the_task_run_name(existing_cluster: Any) -> None:
    @flow(task_runner=DaskTaskRunner(address=existing_cluster.scheduler_address))
    def keyed() -> list[tuple[str, str]]:
        futures = [dask_key.submit(), dask_key.submit()]
        return [(f.task_run_name, f.result()) for f in futures]

    first, second = keyed()
    assert first[1].startswith(f"{first[0]}-")
    assert second[1].startswith(f"{second[0]}-")
    # Unique across flow runs too: the same run names come back in the next flow run.
    (again, _) = keyed()
    assert again[0] == first[0] and again[1] != first[1]


def test_a_future_argument_travels_worker_to_worker(existing_cluster: Any) -> None:
    flow_pid = os.getpid()

    @flow(task_runner=DaskTaskRunner(address=existing_cluster.scheduler_address))
    def hands_on() -> int:
        value = make_tripwire.submit(flow_pid)
        return payload_size.submit(value).result()  # type: ignore[no-any-return]

    assert hands_on() == 1000


def test_a_dependent_run_names_its_upstream_key_on_the_scheduler(existing_cluster: Any) -> None:
    seen: dict[str, Any] = {}

    @flow(task_runner=DaskTaskRunner(address=existing_cluster.scheduler_address))
    def depends() -> None:
        upstream = add.submit(1, 1)
        downstream = add.submit(upstream, 1)
        downstream.wait()
        ts = scheduler_task(existing_cluster, downstream.key)  # type: ignore[attr-defined]
        seen["dependencies"] = {dep.key for dep in ts.dependencies}
        seen["upstream"] = upstream.key  # type: ignore[attr-defined]

    depends()
    assert seen["dependencies"] == {seen["upstream"]}


def test_runs_waiting_on_runs_they_submitted_do_not_deadlock_one_thread() -> None:
    @flow(task_runner=DaskTaskRunner(cluster_kwargs=ONE_THREAD), timeout_seconds=60)
    def nests() -> list[int]:
        return [f.result() for f in submit_and_wait.map([1, 2, 3])]

    assert nests() == [20, 30, 40]


def test_a_run_can_map_and_chain_from_inside_a_worker(existing_cluster: Any) -> None:
    @flow(
        task_runner=DaskTaskRunner(address=existing_cluster.scheduler_address), timeout_seconds=60
    )
    def nests() -> tuple[list[int], int]:
        return map_and_wait([1, 2, 3]), chain_inside(5)

    assert nests() == ([2, 3, 4], 7)


def test_a_dask_subflow_of_a_dask_flow_gets_its_own_cluster() -> None:
    addresses: list[str] = []

    @flow(task_runner=DaskTaskRunner(cluster_kwargs=IN_PROCESS_CLUSTER))
    def child(x: int) -> int:
        addresses.append(worker_address())
        return add(x, 1)

    @flow(task_runner=DaskTaskRunner(cluster_kwargs=IN_PROCESS_CLUSTER))
    def parent() -> int:
        addresses.append(worker_address())
        return child(add(1, 1))

    assert parent() == 3
    assert len(set(addresses)) == 2


def test_an_argument_that_cannot_be_pickled_fails_that_run_only() -> None:
    import threading

    @flow(task_runner=DaskTaskRunner(cluster_kwargs=IN_PROCESS_CLUSTER))
    def unpicklable() -> tuple[str, str, int]:
        bad = add.submit(threading.Lock(), 1)
        return bad.state.name, str(bad.state.message), add(1, 1)

    name, message, other = unpicklable()
    assert (name, other) == ("Failed", 2)
    assert "could not be sent to the Dask cluster: argument 0 cannot be pickled" in message
