"""Hosts on one Linux machine: network namespaces joined by a bridge, for multi-host clusters.

A `Network` makes a switch namespace holding a bridge and, per host, a namespace linked to that
bridge by a veth pair, with a private 10.x address and no default route: a host reaches the
other hosts of its network and nothing else (the root namespace holds none of these links).
Names carry this process's id, so test processes running side by side never share one, and a
network is taken down (its processes killed, its namespaces and links deleted) however the test
ends: by the fixture's `finally`, and at the latest when the process exits (`atexit`).

Everything here needs root and `ip netns`; `unavailable()` says why a machine cannot.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: Every `ip` command and every wait here is bounded.
IP_TIMEOUT = 10.0
#: Namespace names: `tl<pid>n<network>-<what>`, so that those of a process killed before its
#: cleanup can be found and deleted.
PREFIX = "tl"
_NAME = re.compile(rf"^{PREFIX}(\d+)n\d+-\w+$")


def ip(*args: str, namespace: str | None = None, check: bool = True) -> str:
    """Run `ip ARGS` (inside `namespace` if given) and return its output."""
    command = (
        ["ip", *args] if namespace is None else ["ip", "netns", "exec", namespace, "ip", *args]
    )
    done = subprocess.run(command, capture_output=True, text=True, timeout=IP_TIMEOUT, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"`{' '.join(command)}` failed: {done.stderr.strip()}")
    return done.stdout


def unavailable() -> str | None:
    """Why network namespaces cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    name = f"{PREFIX}{os.getpid()}n999-probe"
    try:
        done = subprocess.run(
            ["ip", "netns", "add", name], capture_output=True, text=True, timeout=IP_TIMEOUT
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`ip netns add` cannot run: {exc}"
    if done.returncode != 0:
        return f"`ip netns add` failed: {done.stderr.strip()}"
    ip("netns", "delete", name, check=False)
    return None


def namespace_pids(namespace: str) -> list[int]:
    """The processes running in `namespace`."""
    output = ip("netns", "pids", namespace, check=False)
    return [int(pid) for pid in output.split()]


def kill_namespace(namespace: str, timeout: float = 10.0) -> None:
    """SIGKILL every process in `namespace` until none is left (or `timeout` passes)."""
    deadline = time.monotonic() + timeout
    while pids := namespace_pids(namespace):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {pids} in {namespace} outlived SIGKILL")
        time.sleep(0.05)


def remove_stale_namespaces() -> None:
    """Delete the namespaces of test processes that are gone (one killed before its cleanup)."""
    for line in ip("netns", "list", check=False).splitlines():
        name = line.split()[0] if line.split() else ""
        match = _NAME.match(name)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            kill_namespace(name)
            ip("netns", "delete", name, check=False)


@dataclass
class Host:
    """One namespace on the network: `address` on interface `interface`."""

    name: str
    namespace: str
    address: str
    interface: str = "eth0"
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def popen(
        self, args: Sequence[str], env: Mapping[str, str], log: Path
    ) -> subprocess.Popen[bytes]:
        """Start `args` inside this host, its output appended to `log`."""
        with log.open("ab") as out:
            process = subprocess.Popen(
                ["ip", "netns", "exec", self.namespace, *args],
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def run(
        self, args: Sequence[str], env: Mapping[str, str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """Run `args` inside this host to its end (at most `timeout` seconds), output captured."""
        return subprocess.run(
            ["ip", "netns", "exec", self.namespace, *args],
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def kill_all(self) -> None:
        """Kill every process of this host at once, as a machine that loses power."""
        # Those started here by their process group first: one started a moment ago may not
        # have entered the namespace yet (`ip netns exec` joins it, then runs the command), and
        # `ip netns pids` would miss it.
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
        kill_namespace(self.namespace)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=IP_TIMEOUT)

    def link(self, up: bool) -> None:
        """Plug this host's cable in (`up`) or pull it out."""
        ip("link", "set", self.interface, "up" if up else "down", namespace=self.namespace)


class Network:
    """A switch and the hosts on it; `close()` (or leaving the `with` block) takes it all down."""

    _made = itertools.count()

    def __init__(self) -> None:
        pid, number = os.getpid(), next(self._made)
        self.prefix = f"{PREFIX}{pid}n{number}"
        # 10.X.Y.0/24 from the process id: different in processes side by side (not that it
        # matters, each switch being a network of its own).
        self.subnet = f"10.{100 + (pid >> 8) % 150}.{(pid + number) % 256}"
        self.switch = f"{self.prefix}-switch"
        self.hosts: dict[str, Host] = {}
        self._closed = False
        remove_stale_namespaces()
        atexit.register(self.close)
        try:
            ip("netns", "add", self.switch)
            ip("link", "add", "br0", "type", "bridge", namespace=self.switch)
            ip("link", "set", "br0", "up", namespace=self.switch)
        except BaseException:
            self.close()
            raise

    def add_host(self, name: str) -> Host:
        """A new host `name` (a short word): its namespace, its cable to the switch, its address."""
        index = len(self.hosts) + 2  # .1 is left for nobody: no gateway, no route out
        host = Host(name, f"{self.prefix}-{name}", f"{self.subnet}.{index}")
        self.hosts[name] = host
        try:
            ip("netns", "add", host.namespace)
            # Both ends are made in the switch's namespace, one moved into the host's at once:
            # no link of ours ever appears in the root namespace.
            port = f"to-{name}"
            ip(
                "link", "add", port, "type", "veth", "peer", "name", host.interface,
                "netns", host.namespace, namespace=self.switch,
            )  # fmt: skip
            ip("link", "set", port, "master", "br0", namespace=self.switch)
            ip("link", "set", port, "up", namespace=self.switch)
            ip("addr", "add", f"{host.address}/24", "dev", host.interface, namespace=host.namespace)
            ip("link", "set", host.interface, "up", namespace=host.namespace)
            ip("link", "set", "lo", "up", namespace=host.namespace)
        except BaseException:
            self.close()
            raise
        return host

    def close(self) -> None:
        """Kill every process of every host, then delete the namespaces (and so their links)."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        for host in self.hosts.values():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                host.kill_all()
        for namespace in [*(h.namespace for h in self.hosts.values()), self.switch]:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                ip("netns", "delete", namespace, check=False)

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
