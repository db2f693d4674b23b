"""Ray processes for the tests: clusters started with `ray start --head`, on 127.0.0.1 only,
and the helpers that watch and stop them."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

import taskloom

HERE = Path(__file__).parent

LOOPBACK = "127.0.0.1"

# Held while this process has clusters up: see `_clusters_to_ourselves`.
_LOCK_PATH = Path(tempfile.gettempdir()) / "taskloom-ray-test-clusters.lock"
_lock_holders = 0
_lock_file: int | None = None


def ray_environment(**extra: str) -> dict[str, str]:
    """The environment of a Ray process or flow subprocess: our modules importable, Ray kept
    on the loopback address (Linux Ray otherwise advertises the machine's address)."""
    paths = [str(Path(taskloom.__file__).resolve().parents[1]), str(HERE)]
    paths += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKLOOM_")}
    env.update(
        PYTHONPATH=os.pathsep.join(dict.fromkeys(str(Path(p).resolve()) for p in paths)),
        PYTHONUNBUFFERED="1",
        RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",
    )
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def stop_process_group(pgid: int, grace: float = 1.0) -> None:
    """Stop the process group `pgid` and every descendant of its leader, wherever their group.

    SIGTERM first, SIGKILL to what is left after `grace` seconds; returns once all are gone
    (Ray's workers run in process groups of their own and outlive their raylet for a while).
    """
    processes = _group_members(pgid)
    with contextlib.suppress(psutil.NoSuchProcess):
        processes += psutil.Process(pgid).children(recursive=True)
    processes = list({p.pid: p for p in processes}.values())
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        for process in processes:
            with contextlib.suppress(psutil.Error):
                process.send_signal(sig)
        _, processes = psutil.wait_procs(processes, timeout=wait)
        processes = [p for p in processes if _alive(p)]
        if not processes and not _group_members(pgid):
            return


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def listening_addresses(processes: list[psutil.Process]) -> set[str]:
    """The IP addresses that `processes` listen on or talk from and to (TCP and UDP)."""
    addresses = set()
    for process in processes:
        try:
            connections = process.net_connections(kind="inet")
        except psutil.Error:
            continue
        for connection in connections:
            addresses.add(connection.laddr.ip)
            if connection.raddr:
                addresses.add(connection.raddr.ip)
    return addresses


def is_loopback(ip: str) -> bool:
    return ip in (LOOPBACK, "::1", "::ffff:127.0.0.1") or ip.startswith("127.")


@dataclass
class RayCluster:
    """A cluster started with `ray start --head`, reached through Ray Client at `address`."""

    address: str
    process: subprocess.Popen[bytes]
    log: Path

    def processes(self) -> list[psutil.Process]:
        return _group_members(self.process.pid)


@contextmanager
def ray_cluster_running(**env: str) -> Iterator[RayCluster]:
    """A one-node cluster on 127.0.0.1 with 2 CPUs, in a process group of its own."""
    with _clusters_to_ourselves():
        yield from _cluster(env)


@contextmanager
def _clusters_to_ourselves(timeout: float = 600) -> Iterator[None]:
    """While this process has clusters up, no other process on the machine has any.

    A cluster's Ray Client proxy starts a server for each connection, on the first port from
    23000 up that it finds free, and these servers share ports (gRPC binds with SO_REUSEPORT):
    two clusters taking a connection at the same moment can pick the same port, and then serve
    each other's clients. Test processes (xdist workers, other test runs) take turns instead;
    one process may hold several clusters at once, as its connections come one at a time.
    """
    global _lock_holders, _lock_file
    if _lock_holders == 0:
        descriptor = os.open(_LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o666)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(descriptor)
                    raise TimeoutError(
                        f"another process kept its Ray clusters up for {timeout:g} seconds"
                    ) from None
                time.sleep(0.2)
        _lock_file = descriptor
    _lock_holders += 1
    try:
        yield
    finally:
        _lock_holders -= 1
        if _lock_holders == 0 and _lock_file is not None:
            os.close(_lock_file)  # releases the lock
            _lock_file = None


def _cluster(env: dict[str, str]) -> Iterator[RayCluster]:
    # Short: Ray's Unix socket paths live under it.
    temp_dir = Path(tempfile.mkdtemp(prefix="tlray-", dir="/tmp"))
    client_port = free_port()
    command = [
        str(Path(sys.executable).with_name("ray")),
        "start",
        "--head",
        "--block",
        f"--node-ip-address={LOOPBACK}",
        f"--port={free_port()}",
        f"--ray-client-server-port={client_port}",
        "--num-cpus=2",
        f"--temp-dir={temp_dir}",
        "--include-dashboard=false",
        "--disable-usage-stats",
    ]
    log = temp_dir / "ray-start.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env=ray_environment(**env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for_port(client_port, process, log)
        yield RayCluster(f"ray://{LOOPBACK}:{client_port}", process, log)
    finally:
        stop_process_group(process.pid)
        process.wait(10)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ray start exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"ray start did not open port {port} in 90 seconds:\n{log.read_text()}")
