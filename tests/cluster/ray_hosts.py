"""A Ray cluster over namespace hosts, started as an operator would: `ray start --head` on one
host, `ray start --address=...` on others, the flow reaching it through Ray Client (`ray://`).

The hosts share one filesystem, so each node gets a `--temp-dir` of its own (short: Ray's Unix
sockets live there), and every node is told its own address (`--node-ip-address`). The cluster
uses token authentication: every node, and every client that is let in, has the token in its
environment (`RAY_AUTH_MODE=token`, `RAY_AUTH_TOKEN`).
"""

from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cluster_runs import cluster_env
from netns_hosts import Host

GCS_PORT = 6379
CLIENT_PORT = 10001
STARTUP_SECONDS = 150
#: Each node's shared-memory object store: far below Ray's default share of the machine's memory.
OBJECT_STORE_BYTES = 150_000_000

#: The clusters' token (token authentication: a client without it is refused).
TOKEN = secrets.token_hex(16)

WAIT_FOR_NODES = textwrap.dedent(
    """
    import sys, time
    import ray

    address, count = sys.argv[1], int(sys.argv[2])
    deadline = time.monotonic() + 100
    for attempt in range(5):  # Ray Client gives up after 30 s: the head may start slower
        try:
            ray.init(address, logging_level="WARNING")
            break
        except ConnectionError as exc:
            print(f"attempt {attempt}: {exc}", file=sys.stderr)
            if time.monotonic() > deadline:
                raise
    else:
        sys.exit(f"could not connect to {address}")
    while True:
        workers = [n for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU", 0) > 0]
        if len(workers) >= count:
            break
        if time.monotonic() > deadline:
            sys.exit(f"{len(workers)} of {count} worker nodes joined in 90 s")
        time.sleep(0.5)
    ray.shutdown()
    """
)


@dataclass
class RayCluster:
    address: str
    head: Host
    workers: list[Host]
    temp_dirs: list[Path]

    def remove_temp_dirs(self) -> None:
        for folder in self.temp_dirs:
            shutil.rmtree(folder, ignore_errors=True)


def ray_env(**extra: str) -> dict[str, str]:
    """The environment of a Ray node, or of a flow the cluster lets in: with the token."""
    return cluster_env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=TOKEN, **extra)


def ray_command() -> str:
    return str(Path(sys.executable).with_name("ray"))


def start_ray(
    head: Host,
    workers: Sequence[Host],
    client: Host,
    env: Mapping[str, str],
    folder: Path,
    cpus_per_worker: int = 2,
) -> RayCluster:
    """`ray start --head` on `head` (no CPUs: tasks run on the workers), `ray start --address`
    on each of `workers`; returns once every worker node has joined, as seen from `client`."""
    temp_dirs: list[Path] = []

    def start(host: Host, args: list[str]) -> None:
        temp_dir = Path(tempfile.mkdtemp(prefix=f"tl{host.name}", dir="/tmp"))
        temp_dirs.append(temp_dir)
        host.popen(
            [
                ray_command(), "start", "--block", f"--node-ip-address={host.address}",
                f"--temp-dir={temp_dir}", f"--object-store-memory={OBJECT_STORE_BYTES}",
                "--disable-usage-stats", *args,
            ],
            env,
            folder / f"ray-{host.name}.log",
        )  # fmt: skip

    start(
        head,
        [
            "--head", f"--port={GCS_PORT}", f"--ray-client-server-port={CLIENT_PORT}",
            "--num-cpus=0", "--include-dashboard=false",
        ],
    )  # fmt: skip
    cluster = RayCluster(f"ray://{head.address}:{CLIENT_PORT}", head, list(workers), temp_dirs)
    try:
        for worker in workers:
            start(worker, [f"--address={head.address}:{GCS_PORT}", f"--num-cpus={cpus_per_worker}"])
        done = client.run(
            [sys.executable, "-c", WAIT_FOR_NODES, cluster.address, str(len(workers))],
            env,
            timeout=STARTUP_SECONDS,
        )
        if done.returncode != 0:
            logs = "\n".join(
                f"{log.name}:\n{log.read_text()[-2000:]}" for log in folder.glob("*.log")
            )
            raise RuntimeError(f"the Ray cluster did not start:\n{done.stderr[-3000:]}\n{logs}")
    except BaseException:
        cluster.remove_temp_dirs()
        raise
    return cluster
