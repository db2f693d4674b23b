"""Multi-host clusters for the tests: hosts A (scheduler or Ray head), B and C (workers) and D
(the flow's process), each a network namespace (`netns_hosts`).

These tests need root and `ip netns`; elsewhere they skip, saying why. `nox -s cluster` runs
them, the `tests` session leaves them out (noxfile.py gives it `--ignore=tests/cluster`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from cluster_runs import cluster_env  # noqa: E402
from dask_hosts import DaskCluster, start_dask  # noqa: E402
from netns_hosts import Host, Network, unavailable  # noqa: E402
from ray_hosts import RayCluster, ray_env, start_ray  # noqa: E402

_UNAVAILABLE: list[str | None] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mine = [item for item in items if Path(item.path).is_relative_to(HERE)]
    if not mine:
        return
    if not _UNAVAILABLE:
        _UNAVAILABLE.append(unavailable())
    reason = _UNAVAILABLE[0]
    for item in mine:
        # Ray's driver side leaves pipes for the collector to close (see tests/ray/conftest.py).
        item.add_marker(pytest.mark.filterwarnings("ignore:unclosed file:ResourceWarning"))
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The figures the tests measured (`record_property("measured: ...", value)`)."""
    lines = [
        f"{name.removeprefix('measured: ')}: {value}"
        for report in terminalreporter.stats.get("passed", [])
        for name, value in getattr(report, "user_properties", [])
        if name.startswith("measured: ")
    ]
    if lines:
        terminalreporter.write_sep("-", "measured on the namespace clusters")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def hosts() -> Iterator[dict[str, Host]]:
    """Hosts a, b, c and d on one switch, up for the module: each module its own."""
    with Network() as net:
        yield {name: net.add_host(name) for name in "abcd"}


@pytest.fixture(scope="module")
def dask_cluster(hosts: dict[str, Host], tmp_path_factory: pytest.TempPathFactory) -> DaskCluster:
    """`dask scheduler` on a, `dask worker`s (2 threads each) on b and c."""
    folder = tmp_path_factory.mktemp("dask-hosts")
    return start_dask(hosts["a"], [hosts["b"], hosts["c"]], hosts["d"], cluster_env(), folder)


@pytest.fixture(scope="module")
def ray_cluster(
    hosts: dict[str, Host], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RayCluster]:
    """`ray start --head` on a (no CPUs), `ray start --address` (2 CPUs each) on b and c."""
    folder = tmp_path_factory.mktemp("ray-hosts")
    cluster = start_ray(hosts["a"], [hosts["b"], hosts["c"]], hosts["d"], ray_env(), folder)
    try:
        yield cluster
    finally:
        for host in hosts.values():
            host.kill_all()
        cluster.remove_temp_dirs()
