"""A Dask cluster of several hosts that speaks only TLS: the flow brings its credentials through
`client_kwargs={"security": ...}`; a flow without them is refused at once, saying why."""

from __future__ import annotations

import time

import pytest

from cluster_runs import cluster_env, run_flow
from dask_hosts import DaskCluster, Tls, start_dask
from netns_hosts import Host

#: A module's first test starts its cluster (and, here, its scenario), seconds each; every
#: flow it runs is bounded on its own too.
pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def tls(hosts: dict[str, Host], tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A CA made for the test, and one certificate it signed for every host's address."""
    import trustme

    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    issued = ca.issue_cert(*(host.address for host in hosts.values()))
    files = Tls(folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    ca.cert_pem.write_to_path(str(files.ca))
    issued.private_key_pem.write_to_path(str(files.key))
    for number, pem in enumerate(issued.cert_chain_pems):
        pem.write_to_path(str(files.cert), append=number > 0)
    return files


@pytest.fixture(scope="module")
def tls_cluster(
    hosts: dict[str, Host], tls: Tls, tmp_path_factory: pytest.TempPathFactory
) -> DaskCluster:
    folder = tmp_path_factory.mktemp("dask-tls")
    return start_dask(hosts["a"], [hosts["b"], hosts["c"]], hosts["d"], cluster_env(), folder, tls)


def test_a_flow_with_the_credentials_runs_over_tls_on_both_hosts(
    tls_cluster: DaskCluster, tls: Tls, hosts: dict[str, Host]
) -> None:
    assert tls_cluster.address.startswith("tls://")
    env = cluster_env(TASKLOOM_TASK_RUNNER=tls_cluster.address)
    credentials = [str(tls.ca), str(tls.cert), str(tls.key)]
    run = run_flow(hosts["d"], ["tls", "200", "0.01", *credentials], env, timeout=90)
    assert run.result is not None, run.output
    assert run.result["values"] == [x * x for x in range(200)]
    assert set(run.result["hosts"]) == {hosts["b"].address, hosts["c"].address}


def refused(host: Host, address: str) -> tuple[str, str, float]:
    """A flow on `host` at the cluster `address` with no credentials: it must fail; returns
    its output, the last line (the error) and how long it took."""
    start = time.monotonic()
    run = run_flow(host, ["map", "10", "0"], cluster_env(TASKLOOM_TASK_RUNNER=address), 40)
    assert run.returncode != 0, run.output
    return run.output, run.output.strip().splitlines()[-1], time.monotonic() - start


def test_a_flow_without_credentials_is_refused_at_once_naming_the_cluster(
    tls_cluster: DaskCluster, hosts: dict[str, Host]
) -> None:
    output, last, seconds = refused(hosts["d"], tls_cluster.address)
    assert last.startswith("taskloom.exceptions.TaskRunnerError"), output
    assert tls_cluster.address in last
    assert "has no TLS credentials" in last
    assert "The above exception was the direct cause" not in output
    assert seconds < 20


def test_a_plain_tcp_client_is_refused_at_once_and_told_of_tls(
    tls_cluster: DaskCluster, hosts: dict[str, Host]
) -> None:
    plain = tls_cluster.address.replace("tls://", "tcp://")
    output, last, seconds = refused(hosts["d"], plain)
    assert last.startswith("taskloom.exceptions.TaskRunnerError"), output
    assert plain in last
    assert f"connect to {tls_cluster.address!r} with TLS credentials" in last
    assert seconds < 20
