"""The hosts the cluster tests run on: network namespaces that reach each other and nothing
else, and leave nothing behind."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from cluster_runs import cluster_env
from netns_hosts import Network, ip, namespace_pids

pytestmark = pytest.mark.timeout(60)

CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
except OSError as exc:
    sys.exit(f"{type(exc).__name__}: {exc}")
"""
LISTEN = """
import socket, sys, time
server = socket.create_server((sys.argv[1], 9000))
server.settimeout(30)
server.accept()
"""


def namespaces() -> set[str]:
    return {line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()}


def test_a_host_reaches_another_at_its_address(tmp_path: Path) -> None:
    with Network() as net:
        a, b = net.add_host("a"), net.add_host("b")
        a.popen([sys.executable, "-c", LISTEN, a.address], cluster_env(), tmp_path / "a.log")
        deadline, done = time.monotonic() + 20, None
        while time.monotonic() < deadline:
            done = b.run([sys.executable, "-c", CONNECT, a.address, "9000"], cluster_env(), 20)
            if done.returncode == 0:
                break
            time.sleep(0.2)
        assert done is not None and done.returncode == 0, done and done.stderr


def test_a_host_has_no_route_out_of_its_network() -> None:
    with Network() as net:
        a = net.add_host("a")
        assert "default" not in ip("route", namespace=a.namespace)
        done = a.run([sys.executable, "-c", CONNECT, "192.0.2.1", "80"], cluster_env(), 20)
        assert "Network is unreachable" in done.stderr


def link_names(namespace: str | None = None) -> set[str]:
    """`ip -o link`'s interface names: `2: eth0@if5: <...` gives `eth0`."""
    lines = ip("-o", "link", namespace=namespace).splitlines()
    return {line.split(":")[1].strip().split("@")[0] for line in lines}


def test_the_network_has_no_link_in_the_root_namespace() -> None:
    root_before = link_names()
    with Network() as net:
        net.add_host("a")
        net.add_host("b")
        assert link_names() == root_before
        assert link_names(net.switch) == {"lo", "br0", "to-a", "to-b"}


def test_closing_the_network_kills_its_processes_and_deletes_its_namespaces(
    tmp_path: Path,
) -> None:
    net = Network()
    try:
        a = net.add_host("a")
        sleeper = a.popen(["sleep", "60"], cluster_env(), tmp_path / "sleep.log")
        # `ip netns exec` joins the namespace, then becomes `sleep`: a moment after it starts.
        deadline = time.monotonic() + 10
        while namespace_pids(a.namespace) != [sleeper.pid] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert namespace_pids(a.namespace) == [sleeper.pid]
    finally:
        net.close()
    assert sleeper.poll() is not None
    assert not {a.namespace, net.switch} & namespaces()


def test_closing_the_network_kills_a_process_not_yet_in_its_namespace(tmp_path: Path) -> None:
    with Network() as net:
        a = net.add_host("a")
        # Closed at once: the process may still be `ip netns exec` joining the namespace.
        sleeper = a.popen(["sleep", "60"], cluster_env(), tmp_path / "sleep.log")
    assert sleeper.wait(timeout=10) is not None


def test_the_namespaces_of_a_process_gone_before_its_cleanup_are_deleted_by_the_next() -> None:
    leaves = (
        "import os, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from netns_hosts import Network\n"
        "net = Network()\n"
        "net.add_host('a')\n"
        "print(net.switch, net.hosts['a'].namespace)\n"
        "os._exit(0)  # no cleanup, no atexit: as a process killed\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", leaves], capture_output=True, text=True, timeout=30, check=True
    )
    left = set(done.stdout.split())
    assert left <= namespaces()
    Network().close()
    assert not left & namespaces()
