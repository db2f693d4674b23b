"""Per-task overhead of the Ray runner beside raw `ray.remote`, measured in the same run.

    python benchmarks/bench_ray.py [--tasks 2000] [--chain 500] [--batched 10000]
                                   [--rounds 5] [--num-cpus 2]

One local Ray (on 127.0.0.1, `--num-cpus` CPUs) serves both sides, which take turns for
`--rounds` rounds; each row gives both sides' median per task and the median and range of the
round-by-round ratio:

- the raw engine's best idiom: `f.remote(i)` for each, one `ray.get` of them all; and,
  labelled as such, the slower per-reference idiom (`ray.get(ref)` of each in a list);
- taskloom as users write it: a flow on `RayTaskRunner()`, `[f.result() for f in t.map(xs)]`
  and `t.map(xs).result()`;
- a chain of dependent tasks, each given the previous one's reference or future;
- `--batched` trivial elements: raw per-task submit beside `t.map(xs, batch_size="auto")`.

Log lines go through taskloom's real console handler, with the process's stderr (and so Ray's
copy of the workers' lines) redirected to /dev/null. Then the memory test: the flow process's
resident memory while a 300 MB value passes from one task to another, beside the same flow
fetching the value (the control, which must show it).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

import ray

from _memory import PeakRSS
from _rounds import HEADER, alternate
from taskloom import flow, task
from taskloom_ray import RayTaskRunner


def trivial(x: int) -> int:
    return x


trivial_task = task(name="trivial")(trivial)
trivial_remote = ray.remote(trivial)


@task
def produce(megabytes: int) -> bytes:
    return b"x" * (megabytes * 1024 * 1024)


@task
def consume(value: bytes) -> int:
    return len(value)


def raw_get_all(n: int) -> Callable[[], None]:
    def run() -> None:
        assert ray.get([trivial_remote.remote(i) for i in range(n)]) == list(range(n))

    return run


def raw_get_each(n: int) -> Callable[[], None]:
    def run() -> None:
        refs = [trivial_remote.remote(i) for i in range(n)]
        assert [ray.get(ref) for ref in refs] == list(range(n))

    return run


def raw_chain(n: int) -> Callable[[], None]:
    def run() -> None:
        ref = trivial_remote.remote(0)
        for _ in range(n - 1):
            ref = trivial_remote.remote(ref)
        assert ray.get(ref) == 0

    return run


def ours_each(n: int, batch_size: Any = None) -> Callable[[], None]:
    @flow(task_runner=RayTaskRunner())
    def each() -> None:
        futures = trivial_task.map(range(n), batch_size=batch_size)
        assert [f.result() for f in futures] == list(range(n))

    return each


def ours_all(n: int) -> Callable[[], None]:
    @flow(task_runner=RayTaskRunner())
    def all_at_once() -> None:
        assert trivial_task.map(range(n)).result() == list(range(n))

    return all_at_once


def ours_chain(n: int) -> Callable[[], None]:
    @flow(task_runner=RayTaskRunner())
    def chained() -> None:
        future = trivial_task.submit(0)
        for _ in range(n - 1):
            future = trivial_task.submit(future)
        assert future.result() == 0

    return chained


@flow(task_runner=RayTaskRunner())
def hand_over(megabytes: int) -> int:
    return consume.submit(produce.submit(megabytes)).result()  # type: ignore[no-any-return]


@flow(task_runner=RayTaskRunner())
def fetch_in_flow(megabytes: int) -> int:
    return len(produce.submit(megabytes).result())


def memory_growth(fn: Callable[[int], int], megabytes: int) -> float:
    with PeakRSS() as rss:
        assert fn(megabytes) == megabytes * 1024 * 1024
    return rss.growth_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--chain", type=int, default=500)
    parser.add_argument("--batched", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--megabytes", type=int, default=300)
    args = parser.parse_args()
    n, rounds = args.tasks, args.rounds

    out = sys.stdout
    # The console handler writes to stderr: send it where a quiet terminal would not look.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)

    # One Ray for both sides: the flows' runners join the one this runner started.
    with RayTaskRunner(init_kwargs={"num_cpus": args.num_cpus, "include_dashboard": False}):
        raw_get_all(200)()  # workers started, functions exported
        ours_each(200)()
        print(
            f"Ray {ray.__version__}, local, num_cpus={args.num_cpus}; {rounds} alternating rounds",
            file=out,
        )
        print(HEADER, file=out)
        rows = (
            (f"{n:,} tasks: submit all, one ray.get", raw_get_all(n),
             "[f.result() for f in map]", ours_each(n), n),
            (f"{n:,} tasks: submit all, one ray.get", raw_get_all(n),
             "map(...).result()", ours_all(n), n),
            (f"{n:,} tasks: ray.get of each [slow]", raw_get_each(n),
             "[f.result() for f in map]", ours_each(n), n),
            (f"chain of {args.chain:,}", raw_chain(args.chain),
             "chain of futures", ours_chain(args.chain), args.chain),
            (f"{args.batched:,} tasks: submit all, one ray.get", raw_get_all(args.batched),
             "map(..., batch_size='auto')", ours_each(args.batched, "auto"), args.batched),
        )  # fmt: skip
        for raw_name, raw, our_name, ours, count in rows:
            print(alternate(raw, ours, count, rounds).row(raw_name, our_name), file=out, flush=True)
        mb = args.megabytes
        passed, fetched = memory_growth(hand_over, mb), memory_growth(fetch_in_flow, mb)
        print(
            f"flow-process RSS growth, {mb} MB value passed between two tasks: {passed:.0f} MB "
            f"(control, the value fetched into the flow: {fetched:.0f} MB)",
            file=out,
        )


if __name__ == "__main__":
    main()
