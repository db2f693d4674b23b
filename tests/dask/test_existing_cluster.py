"""With an address, the runner connects to that scheduler and leaves the cluster as it was."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dask_runner_tasks import add, big_bytes, identity, length, write_after
from taskloom import flow
from taskloom.exceptions import TaskRunnerError
from taskloom_dask import DaskTaskRunner


def settle(condition: Any, timeout: float = 10) -> bool:
    """Whether `condition()` holds within `timeout` seconds (the scheduler releases keys
    asynchronously)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_cluster_outlives_the_flow_run(existing_cluster: Any) -> None:
    workers_before = set(existing_cluster.scheduler.workers)

    @flow(task_runner=DaskTaskRunner(address=existing_cluster.scheduler_address))
    def runs() -> int:
        return add(1, 1)

    assert runs() == 2
    assert existing_cluster.status.name == "running"
    assert set(existing_cluster.scheduler.workers) == workers_before


def test_the_connection_is_logged(existing_cluster: Any, taskloom_log: Any) -> None:
    with DaskTaskRunner(address=existing_cluster.scheduler_address):
        pass
    address = existing_cluster.scheduler_address
    assert taskloom_log.messages == [f"Connecting to an existing Dask cluster at {address}"]


def test_every_future_is_released_when_the_flow_run_ends(existing_cluster: Any) -> None:
    scheduler = existing_cluster.scheduler

    @flow(task_runner=DaskTaskRunner(address=existing_cluster.scheduler_address))
    def holds_results() -> int:
        futures = identity.map(range(20))
        total = add.submit(futures[0], futures[1])
        return total.result()  # type: ignore[no-any-return]

    assert holds_results() == 1
    assert settle(lambda: not scheduler.tasks), sorted(scheduler.tasks)


def test_many_flow_runs_leave_no_data_on_the_workers(existing_cluster: Any) -> None:
    from distributed import Client

    @flow(task_runner=DaskTaskRunner(address=existing_cluster.scheduler_address))
    def passes_a_megabyte() -> int:
        return length.submit(big_bytes.submit(1_000_000)).result()  # type: ignore[no-any-return]

    for _ in range(10):
        assert passes_a_megabyte() == 1_000_000
    with Client(existing_cluster.scheduler_address, set_as_default=False) as client:
        assert settle(
            lambda: sum(client.run(lambda dask_worker: len(dask_worker.data)).values()) == 0
        )


def test_an_interrupted_run_lets_running_tasks_finish_on_the_cluster(
    existing_cluster: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "finished"

    @flow(task_runner=DaskTaskRunner(address=existing_cluster.scheduler_address))
    def interrupted() -> None:
        write_after.submit(marker, 1.0)
        while not running_on(existing_cluster):
            time.sleep(0.01)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert existing_cluster.status.name == "running"
    assert settle(marker.exists)
    assert settle(lambda: not existing_cluster.scheduler.tasks)


def running_on(cluster: Any) -> bool:
    return any(ts.state == "processing" for ts in cluster.scheduler.tasks.values())


def test_submitting_after_shutdown_is_refused(existing_cluster: Any) -> None:
    from taskloom.task_runners import TaskCall  # noqa: F401 - the type submit receives

    runner = DaskTaskRunner(address=existing_cluster.scheduler_address)
    with runner:
        pass
    with pytest.raises(RuntimeError, match="after shutdown"):
        runner.submit(None, [])  # type: ignore[arg-type]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_address_fails_within_seconds_naming_it() -> None:
    address = f"tcp://127.0.0.1:{_closed_port()}"
    runner = DaskTaskRunner(address=address)
    start = time.monotonic()
    with pytest.raises(TaskRunnerError, match=address):
        runner.start()
    assert time.monotonic() - start < 10
    assert not runner.started


def test_a_flow_on_an_unreachable_address_raises_the_runner_error() -> None:
    address = f"tcp://127.0.0.1:{_closed_port()}"

    @flow(task_runner=address)
    def unreachable() -> None:
        pass

    with pytest.raises(TaskRunnerError, match=address):
        unreachable()


@pytest.fixture(scope="module")
def tls_security(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Credentials for a TLS cluster on 127.0.0.1: one self-signed certificate for everyone."""
    import shutil
    import subprocess

    from distributed.security import Security

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subject = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(
        ["openssl", *request, "-keyout", key, "-out", cert, *subject],
        check=True,
        capture_output=True,
    )
    return Security(
        tls_ca_file=cert,
        tls_client_cert=cert,
        tls_client_key=key,
        tls_scheduler_cert=cert,
        tls_scheduler_key=key,
        tls_worker_cert=cert,
        tls_worker_key=key,
        require_encryption=True,
    )


@pytest.fixture(scope="module")
def tls_cluster(tls_security: Any) -> Iterator[Any]:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1,
        processes=False,
        protocol="tls://",
        host="127.0.0.1",
        security=tls_security,
        dashboard_address="127.0.0.1:0",
    ) as cluster:
        yield cluster


def test_client_kwargs_carry_tls_credentials(tls_cluster: Any, tls_security: Any) -> None:
    runner = DaskTaskRunner(
        address=tls_cluster.scheduler_address, client_kwargs={"security": tls_security}
    )

    @flow(task_runner=runner)
    def over_tls() -> int:
        return add(2, 3)

    assert over_tls() == 5


def test_a_tls_cluster_refuses_a_runner_without_credentials(tls_cluster: Any) -> None:
    runner = DaskTaskRunner(address=tls_cluster.scheduler_address)
    with pytest.raises(TaskRunnerError, match=tls_cluster.scheduler_address):
        runner.start()


def test_a_runner_without_tls_credentials_says_how_to_give_them_not_dasks_traceback(
    tls_cluster: Any,
) -> None:
    runner = DaskTaskRunner(address=tls_cluster.scheduler_address)
    start = time.monotonic()
    with pytest.raises(TaskRunnerError, match=r"has no TLS credentials.*client_kwargs") as caught:
        runner.start()
    assert time.monotonic() - start < 5
    assert caught.value.__cause__ is None


def test_tls_credentials_from_the_dask_configuration_are_enough(
    tls_cluster: Any, tls_security: Any
) -> None:
    import dask

    credentials = {
        "distributed.comm.tls.ca-file": tls_security.tls_ca_file,
        "distributed.comm.tls.client.cert": tls_security.tls_client_cert,
        "distributed.comm.tls.client.key": tls_security.tls_client_key,
    }
    with dask.config.set(credentials), DaskTaskRunner(address=tls_cluster.scheduler_address):
        pass


def test_a_plain_tcp_runner_refused_by_a_tls_cluster_is_told_of_tls(tls_cluster: Any) -> None:
    plain = tls_cluster.scheduler_address.replace("tls://", "tcp://")
    tls = tls_cluster.scheduler_address
    with pytest.raises(TaskRunnerError, match=rf"takes only TLS.*connect to '{tls}' with TLS"):
        DaskTaskRunner(address=plain).start()


def test_an_address_without_a_scheme_is_a_tcp_address(existing_cluster: Any) -> None:
    bare = existing_cluster.scheduler_address.removeprefix("tcp://")

    @flow(task_runner=DaskTaskRunner(address=bare))
    def on_bare_address() -> int:
        return add(1, 2)  # type: ignore[no-any-return]

    assert on_bare_address() == 3


def test_a_bare_address_string_or_variable_names_the_cluster(
    existing_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = existing_cluster.scheduler_address.removeprefix("tcp://")
    monkeypatch.setenv("TASKLOOM_TASK_RUNNER", bare)

    @flow
    def from_the_environment() -> int:
        return add(2, 2)  # type: ignore[no-any-return]

    @flow(task_runner=bare)
    def from_a_string() -> int:
        return add(3, 3)  # type: ignore[no-any-return]

    assert from_the_environment.task_runner.address == existing_cluster.scheduler_address
    assert (from_the_environment(), from_a_string()) == (4, 6)


def test_an_address_of_a_scheme_dask_lacks_names_the_schemes_and_the_meant_address() -> None:
    with pytest.raises(ValueError, match=r"no http:// transport.*tcp://.*'tcp://my-dask-cluster'"):
        DaskTaskRunner(address="http://my-dask-cluster")


def test_a_runner_string_of_an_unclaimed_scheme_suggests_the_dask_address() -> None:
    from taskloom.exceptions import UnknownTaskRunnerError

    with pytest.raises(UnknownTaskRunnerError, match=r"Did you mean .*'tcp://my-dask-cluster'"):
        flow(task_runner="http://my-dask-cluster")(lambda: None)
