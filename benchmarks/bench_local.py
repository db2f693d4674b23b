"""Per-task overhead of the local runners beside the raw floor, measured in the same run.

    python benchmarks/bench_local.py [--tasks 10000] [--rounds 7]

Prints microseconds per task for: a plain call vs the sequential runner (direct task calls);
`ThreadPoolExecutor.submit` of all, then each future's `result()`, vs the concurrent runner
(`.map` + `.result()` of each); the same with `ProcessPoolExecutor` vs the process pool runner.
The two sides take turns for `--rounds` rounds; each row gives the medians and the median and
range of the round-by-round ratio. Log lines go through taskloom's real console handler, with
the process's stderr redirected to /dev/null.
Then the peak memory of one flow run mapping 100,000 tasks, and the wall time of a whole
process running a one-task flow on the sequential runner.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from _rounds import HEADER, Comparison, alternate
from taskloom import flow, task
from taskloom_local import ConcurrentTaskRunner, ProcessPoolTaskRunner, SequentialTaskRunner


def trivial(x: int) -> int:
    return x


trivial_task = task(trivial, name="trivial")


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(n: int, repeat: int) -> list[tuple[str, str, Comparison]]:
    @flow(task_runner=SequentialTaskRunner())
    def sequential() -> None:
        for i in range(n):
            trivial_task(i)

    @flow(task_runner=ConcurrentTaskRunner())
    def concurrent() -> None:
        for future in trivial_task.map(range(n)):
            future.result()

    @flow(task_runner=ProcessPoolTaskRunner())
    def processes() -> None:
        for future in trivial_task.map(range(n)):
            future.result()

    @flow(task_runner=ProcessPoolTaskRunner())
    def processes_all() -> None:
        assert trivial_task.map(range(n)).result() == list(range(n))

    @flow(task_runner=ConcurrentTaskRunner())
    def concurrent_all() -> None:
        assert trivial_task.map(range(n)).result() == list(range(n))

    @flow(task_runner=ProcessPoolTaskRunner())
    def processes_batched() -> None:
        futures = trivial_task.map(range(n), batch_size="auto")
        assert [f.result() for f in futures] == list(range(n))

    def plain() -> None:
        for i in range(n):
            trivial(i)

    def threads() -> None:
        with ThreadPoolExecutor() as pool:
            for future in [pool.submit(trivial, i) for i in range(n)]:
                future.result()

    def process_pool() -> None:
        with ProcessPoolExecutor() as pool:
            for future in [pool.submit(trivial, i) for i in range(n)]:
                future.result()

    tpe, ppe = "ThreadPoolExecutor, submit all", "ProcessPoolExecutor, submit all"
    rows = [
        ("plain call", plain, "sequential, direct calls", sequential),
        (tpe, threads, "concurrent, .map + .result()", concurrent),
        (tpe, threads, "concurrent, map(...).result()", concurrent_all),
        (ppe, process_pool, "processes, .map + .result()", processes),
        (ppe, process_pool, "processes, map(...).result()", processes_all),
        (ppe, process_pool, "processes, batch_size='auto'", processes_batched),
    ]
    return [(raw_name, name, alternate(raw, ours, n, repeat)) for raw_name, raw, name, ours in rows]


MEMORY_PROBE = """
import resource, sys
from taskloom import flow, task
from taskloom_local import ConcurrentTaskRunner

@task
def trivial(x):
    return x

@flow(task_runner=ConcurrentTaskRunner())
def mapped(n):
    return sum(f.result() for f in trivial.map(range(n)))

mapped({n})
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""

IMPORT_TIME = """
import time
start = time.perf_counter()
import taskloom
print(time.perf_counter() - start)
"""

ONE_TASK_PROCESS = """
from taskloom import flow, task
from taskloom_local import SequentialTaskRunner

@task
def hello():
    return "hello"

@flow(task_runner=SequentialTaskRunner())
def one():
    return hello()

one()
"""


def peak_memory_mb(n: int) -> int:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE.format(n=n)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.split()[-1])


def import_seconds(repeat: int) -> float:
    """The best of `repeat` fresh processes' time to `import taskloom`."""
    times = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_TIME], capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout.split()[-1]))
    return min(times)


def one_task_process_seconds(repeat: int) -> float:
    return best_of(
        repeat,
        lambda: subprocess.run(
            [sys.executable, "-c", ONE_TASK_PROCESS], capture_output=True, check=True
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--mapped", type=int, default=100_000)
    args = parser.parse_args()

    out = sys.stdout
    # The console handler writes to stderr: send it where a quiet terminal would not look.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)

    print(
        f"local runners, {args.tasks:,} trivial tasks, {args.rounds} alternating rounds",
        file=out,
    )
    print(HEADER, file=out)
    for raw_name, name, comparison in measure(args.tasks, args.rounds):
        print(comparison.row(raw_name, name), file=out, flush=True)
    print(
        f"peak memory, {args.mapped:,} mapped tasks in one flow run: "
        f"{peak_memory_mb(args.mapped)} MB",
        file=out,
    )
    print(f"import taskloom: {import_seconds(args.rounds) * 1000:.0f} ms", file=out)
    print(
        f"whole process running a one-task flow (sequential): "
        f"{one_task_process_seconds(args.rounds) * 1000:.0f} ms",
        file=out,
    )


if __name__ == "__main__":
    main()
