"""Without an address, each flow run gets a temporary cluster, closed when the run ends."""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path
from typing import Any

import distributed
import pytest

from dask_clusters import IN_PROCESS_CLUSTER
from dask_runner_tasks import add, worker_address
from taskloom import flow
from taskloom.exceptions import TaskRunnerError
from taskloom_dask import DaskTaskRunner


def test_the_default_cluster_is_a_local_cluster_named_in_the_log(taskloom_log: Any) -> None:
    @flow(task_runner=DaskTaskRunner(cluster_kwargs=IN_PROCESS_CLUSTER))
    def logged() -> int:
        return add(1, 1)

    assert logged() == 2
    taskloom_messages = taskloom_log.messages
    starting = taskloom_messages.index("Starting task runner `DaskTaskRunner`...")
    assert taskloom_messages[starting + 1] == (
        "Creating a new Dask cluster with `distributed.deploy.local.LocalCluster`"
    )
    dashboard = taskloom_messages[starting + 2]
    assert dashboard.startswith("The Dask dashboard is available at http://127.0.0.1:")
    assert dashboard.endswith("/status")


def test_the_default_cluster_listens_on_localhost_only() -> None:
    seen: dict[str, Any] = {}

    @flow(
        task_runner=DaskTaskRunner(
            cluster_kwargs={"n_workers": 1, "dashboard_address": "127.0.0.1:0"}
        )
    )
    def where() -> str:
        client = distributed.get_client()
        seen["scheduler"] = client.scheduler.address
        return worker_address()

    assert where().startswith("tcp://127.0.0.1:")
    assert seen["scheduler"].startswith("tcp://127.0.0.1:")


def test_the_cluster_is_closed_when_the_flow_run_ends() -> None:
    clusters: list[Any] = []

    def recording_cluster(**kwargs: Any) -> distributed.LocalCluster:
        cluster = distributed.LocalCluster(**kwargs)
        clusters.append(cluster)
        return cluster

    @flow(
        task_runner=DaskTaskRunner(
            cluster_class=recording_cluster,
            cluster_kwargs=IN_PROCESS_CLUSTER | {"host": "127.0.0.1", "protocol": "tcp://"},
        )
    )
    def runs() -> int:
        return add(2, 2)

    assert runs() == 4
    (cluster,) = clusters
    assert cluster.status.name == "closed"


@pytest.mark.parametrize(
    "cluster_class",
    ["distributed.LocalCluster", "distributed:LocalCluster", distributed.LocalCluster],
)
def test_cluster_class_is_an_import_path_or_a_class(cluster_class: Any) -> None:
    @flow(
        task_runner=DaskTaskRunner(cluster_class=cluster_class, cluster_kwargs=IN_PROCESS_CLUSTER)
    )
    def runs() -> int:
        return add(1, 2)

    assert runs() == 3


def test_cluster_class_may_be_a_function_given_the_cluster_kwargs() -> None:
    received: list[dict[str, Any]] = []

    def make_cluster(**kwargs: Any) -> distributed.LocalCluster:
        received.append(kwargs)
        return distributed.LocalCluster(
            n_workers=1,
            processes=False,
            protocol="tcp://",
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        )

    @flow(task_runner=DaskTaskRunner(cluster_class=make_cluster, cluster_kwargs={"size": "small"}))
    def runs() -> int:
        return add(1, 3)

    assert runs() == 4
    assert received == [{"size": "small"}]


def test_an_unknown_cluster_class_fails_the_start_naming_it() -> None:
    runner = DaskTaskRunner(cluster_class="no_such_module.Cluster")
    with pytest.raises(TaskRunnerError, match=r"no_such_module\.Cluster"):
        runner.start()
    assert not runner.started


def test_adapt_kwargs_make_the_cluster_adaptive() -> None:
    seen: dict[str, Any] = {}

    @flow(
        task_runner=DaskTaskRunner(
            cluster_kwargs=IN_PROCESS_CLUSTER | {"n_workers": 0},
            adapt_kwargs={"minimum": 1, "maximum": 2},
        )
    )
    def adaptive() -> int:
        runner = current_runner()
        seen["adaptive"] = runner._cluster._adaptive
        return add(2, 3)

    assert adaptive() == 5
    assert seen["adaptive"] is not None
    assert (seen["adaptive"].minimum, seen["adaptive"].maximum) == (1, 2)


def current_runner() -> Any:
    """The runner of the flow run this is called in."""
    from taskloom._context import current_run

    run = current_run.get()
    assert run is not None
    return run.flow_run.runner


def test_client_kwargs_reach_the_client() -> None:
    seen: dict[str, Any] = {}

    @flow(
        task_runner=DaskTaskRunner(
            cluster_kwargs=IN_PROCESS_CLUSTER,
            client_kwargs={"name": "taskloom-test-client", "set_as_default": False},
        )
    )
    def named() -> int:
        seen["id"] = current_runner().client.id
        return add(1, 1)

    assert named() == 2
    assert "taskloom-test-client" in seen["id"]


def test_debug_turns_dask_logging_up_for_the_run_only() -> None:
    levels: dict[str, int] = {}
    before = logging.getLogger("distributed").level

    @flow(task_runner=DaskTaskRunner(cluster_kwargs=IN_PROCESS_CLUSTER, debug=True))
    def debugged() -> int:
        levels["during"] = logging.getLogger("distributed").level
        return add(1, 1)

    assert debugged() == 2
    assert levels["during"] == logging.DEBUG
    assert logging.getLogger("distributed").level == before


def test_performance_report_is_written_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    runner = DaskTaskRunner(cluster_kwargs=IN_PROCESS_CLUSTER, performance_report_path=str(path))

    @flow(task_runner=runner)
    def reported() -> list[int]:
        return [f.result() for f in add.map([1, 2, 3], 1)]

    assert reported() == [2, 3, 4]
    html = path.read_text()
    assert "<html" in html.lower()
    assert runner.performance_report == html


class _HostlessLocalCluster(distributed.LocalCluster):
    """A LocalCluster subclass whose __init__ takes no `host` or `dashboard_address`."""

    def __init__(self, n_workers: int = 1) -> None:
        super().__init__(
            n_workers=n_workers,
            threads_per_worker=2,
            processes=False,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            protocol="tcp://",
        )


class _SyncAdaptCluster(_HostlessLocalCluster):
    adapted: dict[str, Any] | None = None

    def adapt(self, **kwargs: Any) -> Any:  # type: ignore[override]
        self.adapted = kwargs


class _AsyncAdaptCluster(_HostlessLocalCluster):
    """Like dask-kubernetes' operator clusters, whose `adapt` is a coroutine."""

    adapted: dict[str, Any] | None = None

    async def adapt(self, **kwargs: Any) -> Any:  # type: ignore[override]
        await asyncio.sleep(0)
        self.adapted = kwargs


def test_a_local_cluster_subclass_without_host_arguments_is_created_as_it_takes_them() -> None:
    @flow(
        task_runner=DaskTaskRunner(
            cluster_class=_HostlessLocalCluster, adapt_kwargs={"minimum": 1, "maximum": 1}
        )
    )
    def adds() -> int:
        return add(2, 3)

    assert adds() == 5


@pytest.mark.parametrize("cluster_class", [_SyncAdaptCluster, _AsyncAdaptCluster])
def test_adapt_kwargs_reach_adapt_whether_it_is_sync_or_a_coroutine(cluster_class: Any) -> None:
    seen: dict[str, Any] = {}

    @flow(task_runner=DaskTaskRunner(cluster_class=cluster_class, adapt_kwargs={"maximum": 2}))
    def adaptive() -> int:
        seen["adapted"] = current_runner()._cluster.adapted
        return add(2, 3)

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert adaptive() == 5
    assert seen["adapted"] == {"maximum": 2}
