"""Parallel scaling of long CPU-bound tasks, and what `batch_size="auto"` does to them.

    python benchmarks/bench_scaling.py [--tasks 64] [--seconds 0.5] [--workers N] [--rounds 3]

`--tasks` tasks, each a busy loop of about `--seconds` of one core, run: one after another on
the sequential runner (the baseline, once), then `--rounds` rounds of: `ProcessPoolExecutor` and
`Client.submit` (the raw engines), and the processes, Dask and Ray runners, each one element per
engine task and with `batch_size="auto"`. Prints each one's median wall time and its speed-up
over the sequential runner, median and range over the rounds. `--workers` defaults to the
machine's cores; with fewer cores than tasks, the ideal speed-up is the number of cores. Ray
rows are left out where `taskloom-ray` is not installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import distributed

from taskloom import flow, task
from taskloom_dask import DaskTaskRunner
from taskloom_local import ProcessPoolTaskRunner, SequentialTaskRunner


def spin(iterations: int) -> int:
    total = 0
    for i in range(iterations):
        total += i
    return total


spin_task = task(spin, name="spin")


def calibrate(seconds: float) -> int:
    """Iterations of `spin` that take about `seconds` here."""
    iterations = 200_000
    while True:
        start = time.perf_counter()
        spin(iterations)
        took = time.perf_counter() - start
        if took > 0.05:
            return int(iterations * seconds / took)
        iterations *= 4


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n, workers = args.tasks, args.workers
    iterations = calibrate(args.seconds)
    xs = [iterations] * n
    out = sys.stdout
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)

    def mapped(runner: Any, batch_size: Any = None) -> Callable[[], Any]:
        @flow(task_runner=runner)
        def spins() -> list[int]:
            return spin_task.map(xs, batch_size=batch_size).result()

        return spins

    def raw_pool() -> None:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(spin, xs))

    baseline = timed(mapped(SequentialTaskRunner()))
    rows: dict[str, list[float]] = {}

    def record(name: str, fn: Callable[[], Any]) -> None:
        rows.setdefault(name, []).append(timed(fn))

    processes = ProcessPoolTaskRunner(workers)
    with distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0"
    ) as cluster:
        address = cluster.scheduler_address
        dask_runner = DaskTaskRunner(address=address)
        with distributed.Client(address) as client:
            client.gather(client.map(spin, [1000] * workers, pure=False))  # workers warm

            def raw_dask() -> None:
                client.gather([client.submit(spin, x, pure=False) for x in xs])

            for _ in range(args.rounds):
                record("raw ProcessPoolExecutor", raw_pool)
                record("processes", mapped(processes))
                record("processes, batch_size='auto'", mapped(processes, "auto"))
                record("raw Client.submit", raw_dask)
                record("Dask", mapped(dask_runner))
                record("Dask, batch_size='auto'", mapped(dask_runner, "auto"))
    if importlib.util.find_spec("taskloom_ray") is not None:
        from taskloom_ray import RayTaskRunner

        with RayTaskRunner(init_kwargs={"num_cpus": workers, "include_dashboard": False}):
            ray_runner = RayTaskRunner()
            mapped(ray_runner)()  # workers started
            for _ in range(args.rounds):
                record("Ray", mapped(ray_runner))
                record("Ray, batch_size='auto'", mapped(ray_runner, "auto"))

    print(
        f"{n} CPU-bound tasks of {args.seconds} s, {workers} workers on {os.cpu_count()} cores,"
        f" {args.rounds} rounds; speed-up over the sequential runner ({baseline:.1f} s)",
        file=out,
    )
    for name, seconds in rows.items():
        speedups = [baseline / s for s in seconds]
        print(
            f"{name:<32}{statistics.median(seconds):>8.2f} s   "
            f"{statistics.median(speedups):>5.2f}x   {min(speedups):.2f}-{max(speedups):.2f}",
            file=out,
        )


if __name__ == "__main__":
    try:
        main()
    except BaseException:
        # stderr is closed to the engines' noise above; the reason a run failed must show.
        traceback.print_exc(file=sys.stdout)
        raise
