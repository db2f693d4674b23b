"""The same flow on a Dask cluster of several hosts: `dask scheduler` on A, `dask worker`s on B
and C, the flow's process on D, which names the cluster with `TASKLOOM_TASK_RUNNER` alone."""

from __future__ import annotations

from typing import Any

import pytest

from cluster_runs import cluster_env, run_flow
from dask_hosts import DaskCluster
from netns_hosts import Host

MAP_SIZE = 1000
#: Long enough that the map's time is the workers', not the scheduler's.
MAP_DELAY = 0.01


def on_cluster(cluster: DaskCluster) -> dict[str, str]:
    return cluster_env(TASKLOOM_TASK_RUNNER=cluster.address)


#: A module's first test starts its cluster (and, here, its scenario), seconds each; every
#: flow it runs is bounded on its own too.
pytestmark = pytest.mark.timeout(180)


def test_the_readme_flow_gives_on_the_cluster_what_it_gives_locally(
    dask_cluster: DaskCluster, hosts: dict[str, Host]
) -> None:
    local = run_flow(hosts["d"], ["readme"], cluster_env(), timeout=60)
    remote = run_flow(hosts["d"], ["readme"], on_cluster(dask_cluster), timeout=60)
    assert remote.result is not None, remote.output
    assert remote.result == local.result
    assert f"Connecting to an existing Dask cluster at {dask_cluster.address}" in remote.output


def test_a_thousand_task_map_runs_on_both_worker_hosts_with_the_local_results(
    dask_cluster: DaskCluster, hosts: dict[str, Host], record_property: Any
) -> None:
    args = ["map", str(MAP_SIZE), str(MAP_DELAY)]
    local = run_flow(hosts["d"], args, cluster_env(), timeout=90)
    remote = run_flow(hosts["d"], args, on_cluster(dask_cluster), timeout=90)
    assert local.result is not None and remote.result is not None, remote.output
    assert remote.result["values"] == local.result["values"]
    assert set(remote.result["hosts"]) == {hosts["b"].address, hosts["c"].address}
    record_property("measured: dask 1,000-task map on 2 worker hosts (s)", remote.result["seconds"])
