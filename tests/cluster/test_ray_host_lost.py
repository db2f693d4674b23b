"""A worker host lost in the middle of a map on a Ray cluster of several hosts: Ray runs again
(`remote_options(max_retries=...)`) what was lost with it, and the flow ends as if nothing had
happened."""

from __future__ import annotations

from typing import Any

import pytest

from cluster_runs import LostHost, lose_a_host_mid_map, run_flow
from netns_hosts import Host
from ray_hosts import RayCluster, ray_env

#: Ray's runs take longer to come back to the flow than Dask's: long enough tasks that three
#: quarters of the map are still to run when the host is killed.
MAP_SIZE = 200
MAP_DELAY = 0.2

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def lost(
    ray_cluster: RayCluster, hosts: dict[str, Host], tmp_path_factory: pytest.TempPathFactory
) -> LostHost:
    env = ray_env(TASKLOOM_TASK_RUNNER=ray_cluster.address)
    folder = tmp_path_factory.mktemp("ray-lost-flow")
    return lose_a_host_mid_map(hosts["d"], hosts["b"], env, folder, MAP_SIZE, MAP_DELAY)


def test_the_host_is_lost_while_runs_are_unfinished(lost: LostHost, record_property: Any) -> None:
    assert lost.result["unfinished_when_killed"] > 0
    record_property(
        "measured: ray, runs unfinished when host B was killed",
        f"{lost.result['unfinished_when_killed']} of {MAP_SIZE}",
    )


def test_every_result_is_right_after_a_host_is_lost(lost: LostHost, record_property: Any) -> None:
    assert lost.result["values"] == [x * x for x in range(MAP_SIZE)]
    record_property(
        "measured: ray, from killing host B to the flow's end (s)", lost.seconds_to_complete
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


def test_a_later_run_works_on_the_remaining_host_alone(
    lost: LostHost, ray_cluster: RayCluster, hosts: dict[str, Host], record_property: Any
) -> None:
    env = ray_env(TASKLOOM_TASK_RUNNER=ray_cluster.address)
    again = run_flow(hosts["d"], ["map", "1000", "0.01"], env, timeout=180)
    assert again.result is not None, again.output
    assert again.result["values"] == [x * x for x in range(1000)]
    assert set(again.result["hosts"]) == {hosts["c"].address}
    record_property("measured: ray 1,000-task map on 1 worker host (s)", again.result["seconds"])
