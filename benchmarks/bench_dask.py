"""Per-task overhead of the Dask runner beside raw `distributed`, measured in the same run.

    python benchmarks/bench_dask.py [--tasks 1000] [--chain 500] [--batched 10000]
                                    [--rounds 5] [--workers 2]

One `LocalCluster` of worker processes (127.0.0.1) serves both sides, which take turns for
`--rounds` rounds; each row gives both sides' median per task and the median and range of the
round-by-round ratio. Each side connects its own client in every round, as a script would:

- the raw engine's best idiom: `client.submit(fn, x, pure=False)` for each, one `client.gather`;
  and, labelled as such, the slower per-future idiom (`future.result()` of each in a list);
- taskloom as users write it: a flow on `DaskTaskRunner(address=...)`,
  `[f.result() for f in task.map(xs)]`, and `task.map(xs).result()`;
- a chain of dependent tasks, each given the previous one's future;
- `--batched` trivial elements: raw per-task submit beside `task.map(xs, batch_size=...)`.

Then the growth of this process's memory while a 300 MB value passes from one task to another
on two different workers. Log lines go through taskloom's real console handler; this
process's stderr (and so the workers', which inherit it) goes to /dev/null while measuring.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dask
import distributed

from _memory import PeakRSS
from _rounds import HEADER, alternate
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


def raw_gather(address: str, n: int) -> Callable[[], None]:
    def run() -> None:
        with distributed.Client(address) as client:
            futures = [client.submit(trivial, i, pure=False) for i in range(n)]
            assert client.gather(futures) == list(range(n))

    return run


def raw_each(address: str, n: int) -> Callable[[], None]:
    def run() -> None:
        with distributed.Client(address) as client:
            futures = [client.submit(trivial, i, pure=False) for i in range(n)]
            assert [f.result() for f in futures] == list(range(n))

    return run


def raw_chain(address: str, n: int) -> Callable[[], None]:
    def run() -> None:
        with distributed.Client(address) as client:
            future = client.submit(increment, 0, pure=False)
            for _ in range(n - 1):
                future = client.submit(increment, future, pure=False)
            assert future.result() == n

    return run


def ours_each(address: str, n: int, batch_size: int | None = None) -> Callable[[], None]:
    @flow(task_runner=DaskTaskRunner(address=address))
    def each() -> None:
        assert [f.result() for f in trivial_task.map(range(n), batch_size=batch_size)] == list(
            range(n)
        )

    return each


def ours_all(address: str, n: int) -> Callable[[], None]:
    @flow(task_runner=DaskTaskRunner(address=address))
    def all_at_once() -> None:
        assert trivial_task.map(range(n)).result() == list(range(n))

    return all_at_once


def ours_chain(address: str, n: int) -> Callable[[], None]:
    @flow(task_runner=DaskTaskRunner(address=address))
    def chained() -> None:
        future = increment_task.submit(0)
        for _ in range(n - 1):
            future = increment_task.submit(future)
        assert future.result() == n

    return chained


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
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--chain", type=int, default=500)
    parser.add_argument("--batched", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--megabytes", type=int, default=300)
    args = parser.parse_args()
    n, rounds = args.tasks, args.rounds

    out = sys.stdout
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
        raw_gather(address, 100)()  # warm both sides up
        ours_each(address, 100)()
        print(
            f"dask {dask.__version__}, distributed {distributed.__version__}, "
            f"{args.workers} worker processes x 1 thread, {rounds} alternating rounds",
            file=out,
        )
        print(HEADER, file=out)
        rows = (
            (
                f"{n:,} tasks: submit all, one gather",
                raw_gather(address, n),
                "[f.result() for f in map]",
                ours_each(address, n),
                n,
            ),
            (
                f"{n:,} tasks: submit all, one gather",
                raw_gather(address, n),
                "map(...).result()",
                ours_all(address, n),
                n,
            ),
            (
                f"{n:,} tasks: per-future result() [slow]",
                raw_each(address, n),
                "[f.result() for f in map]",
                ours_each(address, n),
                n,
            ),
            (
                f"chain of {args.chain:,}",
                raw_chain(address, args.chain),
                "chain of futures",
                ours_chain(address, args.chain),
                args.chain,
            ),
            (
                f"{args.batched:,} tasks: submit all, gather",
                raw_gather(address, args.batched),
                "map(..., batch_size='auto')",
                ours_each(address, args.batched, "auto"),  # type: ignore[arg-type]
                args.batched,
            ),
        )
        for raw_name, raw, our_name, ours, count in rows:
            print(alternate(raw, ours, count, rounds).row(raw_name, our_name), file=out, flush=True)
        raw_mb, ours_mb = memory_growth(address, args.megabytes * 1_000_000)
    print(
        f"flow-process RSS growth, {args.megabytes} MB passed between two workers: "
        f"raw {raw_mb:.1f} MB, DaskTaskRunner {ours_mb:.1f} MB",
        file=out,
    )


if __name__ == "__main__":
    main()
