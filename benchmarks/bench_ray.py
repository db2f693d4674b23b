"""Per-task overhead of the Ray runner beside raw `ray.remote`, measured in the same run.

    python benchmarks/bench_ray.py [--tasks 3000] [--chain 1000] [--repeat 3] [--num-cpus 2]

One local Ray (on 127.0.0.1, `--num-cpus` CPUs) serves both sides. Prints microseconds per task
for: `--tasks` independent trivial tasks (`f.remote(i)` for each, then `ray.get` of them all,
beside `t.map(...)` and `result()` of each future), and a chain of `--chain` dependent tasks
(each given the previous one's reference or future). Raw and taskloom runs alternate; the best
of `--repeat` rounds is kept on each side. Log lines go through taskloom's real console handler,
with the process's stderr (and so Ray's copy of the workers' lines) redirected to /dev/null.

Then the memory test: the flow process's resident memory while a 300 MB value passes from one
task to another, beside the same flow fetching the value (the control, which must show it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import ray

from _memory import PeakRSS
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


def raw_flat(n: int) -> None:
    ray.get([trivial_remote.remote(i) for i in range(n)])


def raw_chain(n: int) -> None:
    ref = trivial_remote.remote(0)
    for _ in range(n - 1):
        ref = trivial_remote.remote(ref)
    ray.get(ref)


@flow(task_runner=RayTaskRunner())
def taskloom_flat(n: int) -> None:
    for future in trivial_task.map(range(n)):
        future.result()


@flow(task_runner=RayTaskRunner())
def taskloom_chain(n: int) -> None:
    future = trivial_task.submit(0)
    for _ in range(n - 1):
        future = trivial_task.submit(future)
    future.result()


def timed(fn: Callable[[int], Any], n: int) -> float:
    start = time.perf_counter()
    fn(n)
    return (time.perf_counter() - start) / n


def compare(
    raw: Callable[[int], Any], ours: Callable[[int], Any], n: int, repeat: int
) -> tuple[float, float, float]:
    """Best time per task on each side, and the median of the rounds' ratios.

    Each round runs both sides back to back, in alternating order, so that the machine's
    drift (two cores shared by the flow, Ray's daemons and its workers) hits both alike.
    """
    raw(min(n, 200))  # workers started, functions exported
    ours(min(n, 200))
    raw_times: list[float] = []
    our_times: list[float] = []
    for round_ in range(repeat):
        sides = [(raw, raw_times), (ours, our_times)]
        for fn, times in sides if round_ % 2 == 0 else reversed(sides):
            times.append(timed(fn, n))
    ratios = sorted(o / r for r, o in zip(raw_times, our_times, strict=True))
    return min(raw_times), min(our_times), ratios[len(ratios) // 2]


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
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--chain", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--megabytes", type=int, default=300)
    args = parser.parse_args()

    out = sys.stdout
    # The console handler writes to stderr: send it where a quiet terminal would not look.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)

    # One Ray for both sides: the flows' runners join the one this runner started.
    with RayTaskRunner(init_kwargs={"num_cpus": args.num_cpus, "include_dashboard": False}):
        print(
            f"Ray {ray.__version__}, local, num_cpus={args.num_cpus}; {args.repeat} rounds",
            file=out,
        )
        print(
            f"{'workload':<34}{'raw µs/task':>12}{'taskloom µs/task':>18}"
            f"{'ratio of bests':>16}{'median ratio':>14}",
            file=out,
        )
        for label, raw, ours, n in (
            (f"{args.tasks:,} independent trivial tasks", raw_flat, taskloom_flat, args.tasks),
            (f"chain of {args.chain:,} dependent tasks", raw_chain, taskloom_chain, args.chain),
        ):
            raw_time, our_time, median_ratio = compare(raw, ours, n, args.repeat)
            print(
                f"{label:<34}{raw_time * 1e6:>12.0f}{our_time * 1e6:>18.0f}"
                f"{our_time / raw_time:>15.2f}x{median_ratio:>13.2f}x",
                file=out,
            )
        mb = args.megabytes
        passed, fetched = memory_growth(hand_over, mb), memory_growth(fetch_in_flow, mb)
        print(
            f"flow-process RSS growth, {mb} MB value passed between two tasks: {passed:.0f} MB "
            f"(control, the value fetched into the flow: {fetched:.0f} MB)",
            file=out,
        )


if __name__ == "__main__":
    main()
