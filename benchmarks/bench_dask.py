"""Per-task overhead of the Dask runner beside raw `Client.submit`, measured in the same run.

    python benchmarks/bench_dask.py [--tasks 3000] [--chain 1000] [--repeat 3] [--workers 2]

One `LocalCluster` of worker processes (127.0.0.1) serves both sides. Each side connects a
client, submits, reads every result and disconnects:

- raw: `distributed.Client(address)`, `client.submit(fn, x, pure=False)`, `future.result()`;
- taskloom: a flow on `DaskTaskRunner(address=...)`, `task.map(...)` / `task.submit(...)`,
  `future.result()`.

Two workloads: independent trivial tasks, and a chain of dependent tasks (each takes the
previous one's future). Times are the best of `--repeat` runs, printed per task side by side
with their ratio. Then the growth of this process's memory (RSS) while a 300 MB value passes
from one task to another on two different workers.

Log lines go through taskloom's real console handler; this process's stderr (and so the
workers', which inherit it) is redirected to /dev/null while measuring.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dask
import distributed

from _memory import PeakRSS
from taskloom import flow, task
from taskloom_dask import DaskTaskRunner


def trivial(x: int) -> int:
    return x


def increment(x: int) -> int:
    return x + 1


def produce(size: int) -> bytes:
    return b"x" * size


def consume(data: bytes) -> int:
    return len(data)


trivial_task = task(trivial, name="trivial")
increment_task = task(increment, name="increment")
produce_task = task(produce, name="produce")
consume_task = task(consume, name="consume")


def best_of_interleaved(
    repeat: int, raw: Callable[[], object], ours: Callable[[], object]
) -> tuple[float, float]:
    """Best wall time of each, running them alternately so both see the same machine."""
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for index, fn in enumerate((raw, ours)):
            start = time.perf_counter()
            fn()
            best[index] = min(best[index], time.perf_counter() - start)
    return best[0], best[1]


def raw_trivial(address: str, n: int) -> None:
    with distributed.Client(address) as client:
        futures = [client.submit(trivial, i, pure=False) for i in range(n)]
        for future in futures:
            future.result()


def raw_chain(address: str, n: int) -> None:
    with distributed.Client(address) as client:
        future = client.submit(increment, 0, pure=False)
        for _ in range(n - 1):
            future = client.submit(increment, future, pure=False)
        assert future.result() == n


def taskloom_flows(address: str, n: int, chain: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
    runner = DaskTaskRunner(address=address)

    @flow(task_runner=runner)
    def independent() -> None:
        for future in trivial_task.map(range(n)):
            future.result()

    @flow(task_runner=runner)
    def chained() -> None:
        future = increment_task.submit(0)
        for _ in range(chain - 1):
            future = increment_task.submit(future)
        assert future.result() == chain

    return independent, chained


@contextmanager
def stderr_to_devnull() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def memory_growth(address: str, size: int) -> tuple[float, float]:
    """Peak RSS growth of this process (MB), raw and taskloom, for a `size`-byte intermediate
    produced on one worker and consumed on another."""
    with distributed.Client(address) as client:
        first, second = sorted(client.scheduler_info()["workers"])
        with PeakRSS() as raw:
            data = client.submit(produce, size, pure=False, workers=[first])
            assert client.submit(consume, data, pure=False, workers=[second]).result() == size
            del data

    @flow(task_runner=DaskTaskRunner(address=address))
    def passes_data() -> int:
        with dask.annotate(workers=[first]):
            data = produce_task.submit(size)
        with dask.annotate(workers=[second]):
            return consume_task.submit(data).result()  # type: ignore[no-any-return]

    passes_data()  # warm: the first flow run imports and connects what later ones reuse
    with PeakRSS() as ours:
        assert passes_data() == size
    return raw.growth_mb, ours.growth_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--chain", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--megabytes", type=int, default=300)
    args = parser.parse_args()

    with (
        stderr_to_devnull(),
        distributed.LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
    ):
        address = cluster.scheduler_address
        independent, chained = taskloom_flows(address, args.tasks, args.chain)
        raw_trivial(address, 100)  # warm both sides up
        independent()
        rows = []
        for name, count, raw, ours in (
            (
                f"{args.tasks} independent trivial tasks",
                args.tasks,
                lambda: raw_trivial(address, args.tasks),
                independent,
            ),
            (
                f"chain of {args.chain} dependent tasks",
                args.chain,
                lambda: raw_chain(address, args.chain),
                chained,
            ),
        ):
            raw_s, ours_s = best_of_interleaved(args.repeat, raw, ours)
            rows.append((name, raw_s / count, ours_s / count))
        raw_mb, ours_mb = memory_growth(address, args.megabytes * 1_000_000)

    print(
        f"dask {dask.__version__}, distributed {distributed.__version__}, "
        f"{args.workers} worker processes x 1 thread, best of {args.repeat}"
    )
    print(f"{'workload':<36} {'raw Client.submit':>18} {'DaskTaskRunner':>15} {'ratio':>6}")
    for name, raw, ours in rows:
        print(f"{name:<36} {raw * 1e6:>15.0f} us {ours * 1e6:>12.0f} us {ours / raw:>6.2f}")
    print(
        f"flow-process RSS growth, {args.megabytes} MB passed between two workers: "
        f"raw {raw_mb:.1f} MB, DaskTaskRunner {ours_mb:.1f} MB"
    )


if __name__ == "__main__":
    main()
