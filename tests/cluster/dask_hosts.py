"""A Dask cluster over namespace hosts, started as an operator would: `dask scheduler` on one
host, `dask worker` on others (`python -m distributed.cli.dask_*`, the same commands)."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from netns_hosts import Host

PORT = 8786
STARTUP_SECONDS = 60

WAIT_FOR_WORKERS = textwrap.dedent(
    """
    import sys
    from distributed import Client
    from distributed.security import Security

    address, count, tls = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    security = Security(
        tls_ca_file=tls[0], tls_client_cert=tls[1], tls_client_key=tls[2],
        require_encryption=True,
    ) if tls else None
    with Client(address, timeout=30, security=security) as client:
        client.wait_for_workers(count, timeout=float(60))
    """
)


@dataclass
class Tls:
    """Files of a CA and of the one certificate (and key) every party of the cluster shows."""

    ca: Path
    cert: Path
    key: Path

    def cli(self) -> list[str]:
        return [
            "--tls-ca-file",
            str(self.ca),
            "--tls-cert",
            str(self.cert),
            "--tls-key",
            str(self.key),
        ]


@dataclass
class DaskCluster:
    address: str
    scheduler: Host
    workers: list[Host]


def start_dask(
    scheduler: Host,
    workers: Sequence[Host],
    client: Host,
    env: Mapping[str, str],
    folder: Path,
    tls: Tls | None = None,
    nthreads: int = 2,
) -> DaskCluster:
    """`dask scheduler` on `scheduler`, a `dask worker` on each of `workers`, and returns once
    all the workers have joined, as seen from `client`."""
    protocol = "tls" if tls else "tcp"
    address = f"{protocol}://{scheduler.address}:{PORT}"
    security = tls.cli() if tls else []
    scheduler.popen(
        [
            sys.executable, "-m", "distributed.cli.dask_scheduler",
            "--host", scheduler.address, "--port", str(PORT), "--no-dashboard",
            "--protocol", protocol, *security,
        ],
        env,
        folder / f"scheduler-{scheduler.name}.log",
    )  # fmt: skip
    for worker in workers:
        worker.popen(
            [
                sys.executable, "-m", "distributed.cli.dask_worker", address,
                "--host", worker.address, "--nthreads", str(nthreads), "--no-dashboard",
                "--name", worker.name, *security,
            ],
            env,
            folder / f"worker-{worker.name}.log",
        )  # fmt: skip
    client_tls = [str(tls.ca), str(tls.cert), str(tls.key)] if tls else []
    done = client.run(
        [sys.executable, "-c", WAIT_FOR_WORKERS, address, str(len(workers)), *client_tls],
        env,
        timeout=STARTUP_SECONDS + 40,
    )
    if done.returncode != 0:
        logs = "\n".join(f"{log.name}:\n{log.read_text()[-2000:]}" for log in folder.glob("*.log"))
        raise RuntimeError(f"the Dask cluster did not start:\n{done.stderr[-3000:]}\n{logs}")
    return DaskCluster(address, scheduler, list(workers))
