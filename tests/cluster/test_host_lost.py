"""A worker host lost in the middle of a map, on Dask and on Ray clusters of several hosts: the
engine runs again what was lost with it (Dask's recomputation; Ray's retries, asked for with
`remote_options(max_retries=3)`), and the flow ends as if nothing had happened.

Each engine gets hosts of its own (host B does not come back), and the scenario runs once per
engine; the tests read what it observed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from cluster_runs import LostHost, cluster_env, lose_a_host_mid_map, run_flow
from dask_hosts import start_dask
from netns_hosts import Host, Network
from ray_hosts import ray_env, start_ray

#: Runs and their length: Ray's runs take longer to come back to the flow than Dask's, so its
#: tasks are longer, so that three quarters of the map are still to run when B is killed.
MAPS = {"dask": (400, 0.05), "ray": (200, 0.2)}

pytestmark = pytest.mark.timeout(300)


@dataclass
class Lost:
    engine: str
    hosts: dict[str, Host]
    env: dict[str, str]
    map_size: int
    run: LostHost


@pytest.fixture(scope="module", params=sorted(MAPS))
def lost(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lost]:
    engine: str = request.param
    folder = tmp_path_factory.mktemp(f"{engine}-lost")
    size, delay = MAPS[engine]
    with Network() as net:
        hosts = {name: net.add_host(name) for name in "abcd"}
        a, workers, d = hosts["a"], [hosts["b"], hosts["c"]], hosts["d"]
        temp_dirs = None
        try:
            if engine == "dask":
                env = cluster_env(
                    TASKLOOM_TASK_RUNNER=start_dask(a, workers, d, cluster_env(), folder).address
                )
            else:
                ray = start_ray(a, workers, d, ray_env(), folder)
                temp_dirs = ray.remove_temp_dirs
                env = ray_env(TASKLOOM_TASK_RUNNER=ray.address)
            run = lose_a_host_mid_map(d, hosts["b"], env, folder, size, delay)
            yield Lost(engine, hosts, env, size, run)
        finally:
            net.close()
            if temp_dirs is not None:
                temp_dirs()


def test_the_host_is_lost_while_runs_are_unfinished(lost: Lost, record_property: Any) -> None:
    unfinished = lost.run.result["unfinished_when_killed"]
    assert unfinished > 0
    record_property(
        f"measured: {lost.engine}, runs unfinished when host B was killed",
        f"{unfinished} of {lost.map_size}",
    )


def test_every_result_is_right_after_a_host_is_lost(lost: Lost, record_property: Any) -> None:
    assert lost.run.result["values"] == [x * x for x in range(lost.map_size)]
    record_property(
        f"measured: {lost.engine}, from killing host B to the flow's end (s)",
        lost.run.seconds_to_complete,
    )


def test_no_run_completed_before_the_loss_is_reported_otherwise(lost: Lost) -> None:
    before = lost.run.result["completed_before"]
    assert len(before) >= lost.map_size // 4
    assert lost.run.result["completed_before_now"] == {"Completed": len(before)}


def test_the_final_states_count_every_run_completed(lost: Lost) -> None:
    assert lost.run.result["final_states"] == {"Completed": lost.map_size}
    assert "All states completed." in lost.run.result["flow_state"]


def test_the_remaining_host_did_work(lost: Lost) -> None:
    assert lost.run.result["hosts"].get(lost.hosts["c"].address, 0) > 0


def test_a_later_run_works_on_the_remaining_host_alone(lost: Lost, record_property: Any) -> None:
    again = run_flow(lost.hosts["d"], ["map", "1000", "0.01"], lost.env, timeout=180)
    assert again.result is not None, again.output
    assert again.result["values"] == [x * x for x in range(1000)]
    assert set(again.result["hosts"]) == {lost.hosts["c"].address}
    record_property(
        f"measured: {lost.engine} 1,000-task map on 1 worker host (s)", again.result["seconds"]
    )
