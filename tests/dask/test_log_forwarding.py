"""Task-run log lines from the workers of an existing cluster reach the flow's own output."""

from __future__ import annotations

import threading
from typing import Any

from dask_clusters import CommandLineCluster
from dask_runner_tasks import add, identity
from taskloom import flow
from taskloom_dask import DaskTaskRunner
from taskloom_dask._log_forwarding import forward_worker_logs


def finished_lines(messages: list[str], names: list[str]) -> list[str]:
    return [m for m in messages for name in names if m.startswith(f"Task run {name!r} finished")]


def test_task_run_lines_from_another_hosts_workers_reach_the_flows_log(
    command_line_cluster: CommandLineCluster, taskloom_log: Any
) -> None:
    @flow(task_runner=DaskTaskRunner(address=command_line_cluster.address))
    def ten() -> list[str]:
        futures = identity.map(range(10))
        futures.wait()
        return [f.task_run_name for f in futures]

    names = ten()
    lines = finished_lines(taskloom_log.messages, names)
    assert sorted(lines) == sorted(
        f"Task run {name!r} finished in state Completed(message=None, type=COMPLETED)"
        for name in names
    )


def test_each_flow_sharing_the_cluster_prints_only_its_own_lines(
    command_line_cluster: CommandLineCluster, taskloom_log: Any
) -> None:
    names: dict[str, list[str]] = {}

    def run(label: str, values: range) -> None:
        @flow(task_runner=DaskTaskRunner(address=command_line_cluster.address))
        def maps() -> list[str]:
            futures = add.map(values, 1)
            futures.wait()
            return [f.task_run_name for f in futures]

        names[label] = maps()

    threads = [threading.Thread(target=run, args=(label, range(8))) for label in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    # Both flows run the same task, so their runs share names: each line once per run, not
    # once per flow that heard it.
    every_name = names["a"] + names["b"]
    lines = finished_lines(taskloom_log.messages, sorted(set(every_name)))
    assert len(lines) == len(every_name)


def test_workers_that_share_the_flows_stderr_are_not_forwarded(existing_cluster: Any) -> None:
    from distributed import Client

    with Client(existing_cluster.scheduler_address) as client:
        assert forward_worker_logs(client, set()) is None
