"""Runs taking another runner's runs (`@task(task_runner=...)`), beside the same flow on one
runner, measured in the same run.

    python benchmarks/bench_across_runners.py [--tasks 2000] [--slow 8] [--rounds 5]

- `--tasks` pairs of trivial runs, each downstream run taking its upstream run's future: both
  on the flow's concurrent runner (futures passed within the runner), beside the upstream runs
  on a second concurrent runner (each downstream run then waits for another runner's run, and
  goes to its own runner once that run is final). Microseconds per pair and the ratio.
- `--slow` upstream runs of 0.2 s on a second runner, each feeding a trivial run on the flow's:
  the whole flow's wall time, beside the 0.2 s the upstream runs take side by side. A flow
  whose submissions waited for the other runner's runs would take `--slow` x 0.2 s.

Log lines go through taskloom's real console handler, with stderr redirected to /dev/null.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

from _rounds import HEADER, alternate
from taskloom import flow, task
from taskloom_local import ConcurrentTaskRunner

SLOW_SECONDS = 0.2


@task
def trivial(x: int) -> int:
    return x


@task
def slow(x: int) -> int:
    time.sleep(SLOW_SECONDS)
    return x


def pairs(n: int, upstream_runner: ConcurrentTaskRunner | None) -> Callable[[], None]:
    upstream = (
        trivial if upstream_runner is None else trivial.with_options(task_runner=upstream_runner)
    )

    @flow(task_runner=ConcurrentTaskRunner())
    def paired() -> None:
        futures = [trivial.submit(upstream.submit(i)) for i in range(n)]
        assert [f.result() for f in futures] == list(range(n))

    return paired


def slow_fan(n: int) -> Callable[[], None]:
    elsewhere = slow.with_options(task_runner=ConcurrentTaskRunner(max_workers=n))

    @flow(task_runner=ConcurrentTaskRunner())
    def fan() -> None:
        futures = [trivial.submit(elsewhere.submit(i)) for i in range(n)]
        assert [f.result() for f in futures] == list(range(n))

    return fan


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--slow", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    out = sys.stdout
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)

    same, across = pairs(args.tasks, None), pairs(args.tasks, ConcurrentTaskRunner(max_workers=8))
    same(), across()  # threads started, code warm
    print(f"{args.rounds} alternating rounds", file=out)
    print(HEADER.replace("raw engine", "one runner"), file=out)
    row = alternate(same, across, args.tasks, args.rounds).row(
        f"{args.tasks:,} pairs, both on the flow's runner", "upstream on another runner"
    )
    print(row, file=out)
    fan = slow_fan(args.slow)
    times = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        fan()
        times.append(time.perf_counter() - start)
    print(
        f"{args.slow} runs of {SLOW_SECONDS} s on another runner, each feeding a run on the "
        f"flow's: {statistics.median(times):.2f} s median ({min(times):.2f}-{max(times):.2f}); "
        f"waiting at each submission would take {args.slow * SLOW_SECONDS:.1f} s",
        file=out,
    )


if __name__ == "__main__":
    main()
