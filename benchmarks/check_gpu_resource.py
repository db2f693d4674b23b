"""A task that asks Dask for a GPU runs where one is declared, and really uses it.

    python benchmarks/check_gpu_resource.py

For a machine with an NVIDIA GPU and PyTorch (the project's lent device machine): a temporary
Dask cluster of two worker processes, one declaring `{"GPU": 1}`; a task tagged
`dask-resource:GPU=1` multiplies two matrices on the GPU, eight times, and every run must land on
the GPU worker and agree with the same product on the CPU. Untagged runs spread over both
workers. Prints where each kind of run went and exits non-zero on any mismatch.
"""

from __future__ import annotations

import subprocess
import sys

import distributed

from taskloom import flow, task
from taskloom_dask import DaskTaskRunner


@task(tags=["dask-resource:GPU=1"])
def gpu_product(seed: int) -> tuple[str, str, float]:
    import torch

    generator = torch.Generator().manual_seed(seed)
    a = torch.randn(512, 512, generator=generator, dtype=torch.float64)
    b = torch.randn(512, 512, generator=generator, dtype=torch.float64)
    on_gpu = (a.cuda() @ b.cuda()).cpu()
    error = float((on_gpu - a @ b).norm() / (a @ b).norm())
    return distributed.get_worker().name, torch.cuda.get_device_name(0), error


@task
def where() -> str:
    return str(distributed.get_worker().name)


def main() -> int:
    cluster = distributed.LocalCluster(
        n_workers=0, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0"
    )
    cluster.scale(1)
    # A second worker, with the GPU declared, as `dask worker` would start on a GPU host.
    gpu_worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_worker",
            cluster.scheduler_address,
            "--name",
            "gpu-worker",
            "--nthreads",
            "1",
            "--resources",
            "GPU=1",
            "--host",
            "127.0.0.1",
            "--no-dashboard",
        ],
        stderr=subprocess.DEVNULL,
    )
    with distributed.Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)

    @flow(task_runner=DaskTaskRunner(address=cluster.scheduler_address))
    def gpu_flow() -> tuple[list[tuple[str, str, float]], list[str]]:
        return gpu_product.map(range(8)).result(), where.map(range(16)).result()

    try:
        gpu_runs, plain_runs = gpu_flow()
    finally:
        gpu_worker.terminate()
        gpu_worker.wait(30)
        cluster.close()
    workers = {name for name, _, _ in gpu_runs}
    worst = max(error for _, _, error in gpu_runs)
    print(
        f"GPU-tagged runs on {sorted(workers)} ({gpu_runs[0][1]}), worst relative error {worst:.1e}"
    )
    print(f"untagged runs on {sorted(set(plain_runs))}")
    ok = workers == {"gpu-worker"} and worst < 1e-10
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
