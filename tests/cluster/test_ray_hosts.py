"""The same flow on a Ray cluster of several hosts: `ray start --head` on A, `ray start
--address` on B and C, the flow's process on D, which names the cluster with
`TASKLOOM_TASK_RUNNER=ray://A:10001` alone. The cluster takes only clients with its token."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from cluster_runs import cluster_env, cut_the_cable_mid_run, run_flow
from netns_hosts import Host
from ray_hosts import RayCluster, ray_env

MAP_SIZE = 1000
MAP_DELAY = 0.01

pytestmark = pytest.mark.timeout(240)


def test_the_readme_flow_gives_on_the_cluster_what_it_gives_locally(
    ray_cluster: RayCluster, hosts: dict[str, Host]
) -> None:
    local = run_flow(hosts["d"], ["readme"], cluster_env(), timeout=60)
    env = ray_env(TASKLOOM_TASK_RUNNER=ray_cluster.address)
    remote = run_flow(hosts["d"], ["readme"], env, timeout=120)
    assert remote.result is not None, remote.output
    assert remote.result == local.result


def test_a_thousand_task_map_runs_on_both_worker_hosts_with_the_local_results(
    ray_cluster: RayCluster, hosts: dict[str, Host], record_property: Any
) -> None:
    args = ["map", str(MAP_SIZE), str(MAP_DELAY)]
    local = run_flow(hosts["d"], args, cluster_env(), timeout=90)
    env = ray_env(TASKLOOM_TASK_RUNNER=ray_cluster.address)
    remote = run_flow(hosts["d"], args, env, timeout=180)
    assert local.result is not None and remote.result is not None, remote.output
    assert remote.result["values"] == local.result["values"]
    assert set(remote.result["hosts"]) == {hosts["b"].address, hosts["c"].address}
    assert len(remote.result["nodes"]) == 2
    record_property("measured: ray 1,000-task map on 2 worker hosts (s)", remote.result["seconds"])


def test_a_flow_without_the_token_is_refused_saying_so(
    ray_cluster: RayCluster, hosts: dict[str, Host], tmp_path: Path
) -> None:
    # No token in the environment, and none in a home folder (where Ray would look too).
    env = cluster_env(TASKLOOM_TASK_RUNNER=ray_cluster.address, HOME=str(tmp_path))
    start = time.monotonic()
    run = run_flow(hosts["d"], ["readme"], env, timeout=90)
    seconds = time.monotonic() - start
    assert run.returncode != 0
    last = run.output.strip().splitlines()[-1]
    assert last.startswith("taskloom.exceptions.TaskRunnerError"), run.output
    assert f"{ray_cluster.address} requires token authentication" in last
    assert seconds < 30


def test_a_flow_whose_link_is_out_for_five_seconds_completes_with_every_result(
    ray_cluster: RayCluster, hosts: dict[str, Host], tmp_path: Path
) -> None:
    env = ray_env(TASKLOOM_TASK_RUNNER=ray_cluster.address)
    run = cut_the_cable_mid_run(hosts["d"], env, tmp_path, ["300", "0.1"])
    assert run.returncode is not None, f"still running after {run.seconds:.0f} s"
    assert run.result is not None, run.output[-5000:]
    assert run.result["values"] == [x * x for x in range(300)]
