"""A worker host lost in the middle of a map on a Dask cluster of several hosts: Dask computes
again what was lost with it, and the flow ends as if nothing had happened."""

from __future__ import annotations

from typing import Any

import pytest

from cluster_runs import LostHost, cluster_env, lose_a_host_mid_map, run_flow
from dask_hosts import DaskCluster
from netns_hosts import Host

MAP_SIZE = 400
MAP_DELAY = 0.05


@pytest.fixture(scope="module")
def lost(
    dask_cluster: DaskCluster, hosts: dict[str, Host], tmp_path_factory: pytest.TempPathFactory
) -> LostHost:
    env = cluster_env(TASKLOOM_TASK_RUNNER=dask_cluster.address)
    folder = tmp_path_factory.mktemp("dask-lost-flow")
    return lose_a_host_mid_map(hosts["d"], hosts["b"], env, folder, MAP_SIZE, MAP_DELAY)


@pytest.mark.timeout(240)
def test_the_host_is_lost_while_runs_are_unfinished(lost: LostHost, record_property: Any) -> None:
    assert lost.result["unfinished_when_killed"] > 0
    record_property(
        "measured: dask, runs unfinished when host B was killed",
        f"{lost.result['unfinished_when_killed']} of {MAP_SIZE}",
    )


def test_every_result_is_right_after_a_host_is_lost(lost: LostHost, record_property: Any) -> None:
    assert lost.result["values"] == [x * x for x in range(MAP_SIZE)]
    record_property(
        "measured: dask, from killing host B to the flow's end (s)", lost.seconds_to_complete
    )


def test_no_run_completed_before_the_loss_is_reported_otherwise(lost: LostHost) -> None:
    assert len(lost.result["completed_before"]) >= MAP_SIZE // 4
    assert lost.result["completed_before_now"] == {
        "Completed": len(lost.result["completed_before"])
    }


def test_the_final_states_count_every_run_completed(lost: LostHost) -> None:
    assert lost.result["final_states"] == {"Completed": MAP_SIZE}
    assert "All states completed." in lost.result["flow_state"]


def test_the_remaining_host_did_work(lost: LostHost, hosts: dict[str, Host]) -> None:
    assert lost.result["hosts"].get(hosts["c"].address, 0) > 0


@pytest.mark.timeout(120)
def test_a_later_run_works_on_the_remaining_host_alone(
    lost: LostHost, dask_cluster: DaskCluster, hosts: dict[str, Host], record_property: Any
) -> None:
    env = cluster_env(TASKLOOM_TASK_RUNNER=dask_cluster.address)
    again = run_flow(hosts["d"], ["map", "1000", "0.01"], env, timeout=90)
    assert again.result is not None, again.output
    assert again.result["values"] == [x * x for x in range(1000)]
    assert set(again.result["hosts"]) == {hosts["c"].address}
    record_property("measured: dask 1,000-task map on 1 worker host (s)", again.result["seconds"])
