"""The flow's host loses its link to a Dask cluster of several hosts for 5 s in the middle of a
run: the flow completes when the link is back, and never hangs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster_runs import cluster_env, cut_the_cable_mid_run
from dask_hosts import DaskCluster
from netns_hosts import Host

MAP_SIZE = 300
MAP_DELAY = 0.1


#: A module's first test starts its cluster (and, here, its scenario), seconds each; every
#: flow it runs is bounded on its own too.
pytestmark = pytest.mark.timeout(180)


def test_a_flow_whose_link_is_out_for_five_seconds_completes_with_every_result(
    dask_cluster: DaskCluster, hosts: dict[str, Host], tmp_path: Path
) -> None:
    env = cluster_env(TASKLOOM_TASK_RUNNER=dask_cluster.address)
    run = cut_the_cable_mid_run(hosts["d"], env, tmp_path, [str(MAP_SIZE), str(MAP_DELAY)])
    assert run.returncode is not None, f"still running after {run.seconds:.0f} s"
    assert run.result is not None, run.output[-5000:]
    assert run.result["values"] == [x * x for x in range(MAP_SIZE)]
