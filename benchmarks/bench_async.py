"""Per-task overhead of async tasks on the local runners, beside plain asyncio, in the same run.

    python benchmarks/bench_async.py [--tasks 5000] [--rounds 7] [--json FILE]

Rows, each the medians of alternating rounds and the median and range of their ratio:

- an async flow awaiting an async task `n` times on the sequential runner, beside awaiting the
  coroutine itself `n` times;
- an async flow gathering `n` async task calls on the concurrent runner, beside
  `asyncio.gather` of the `n` coroutines;
- a sync flow mapping an async task `n` times on the concurrent runner and reading each result,
  beside `ThreadPoolExecutor` running `asyncio.run` of the coroutine for each (a new event loop
  per call, which is what a sync caller of a coroutine writes);
- a sync flow calling an async task `n` times on the sequential runner, beside `asyncio.run`.

`--json` writes the taskloom side's per-task microseconds, for comparing two versions of the
code in alternating runs (issue 14's before and after).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from _rounds import HEADER, Comparison, alternate
from taskloom import flow, task
from taskloom_local import ConcurrentTaskRunner, SequentialTaskRunner


async def trivial(x: int) -> int:
    return x


trivial_task = task(trivial, name="trivial")


def measure(n: int, rounds: int) -> list[tuple[str, str, Comparison]]:
    @flow(task_runner=SequentialTaskRunner())
    async def sequential_awaits() -> None:
        for i in range(n):
            await trivial_task(i)

    @flow(task_runner=ConcurrentTaskRunner())
    async def concurrent_gather() -> None:
        await asyncio.gather(*(trivial_task(i) for i in range(n)))

    @flow(task_runner=ConcurrentTaskRunner())
    def concurrent_map() -> None:
        for future in trivial_task.map(range(n)):
            future.result()

    @flow(task_runner=SequentialTaskRunner())
    def sequential_calls() -> None:
        for i in range(n):
            trivial_task(i)

    async def plain_awaits() -> None:
        for i in range(n):
            await trivial(i)

    async def plain_gather() -> None:
        await asyncio.gather(*(trivial(i) for i in range(n)))

    def threads() -> None:
        with ThreadPoolExecutor() as pool:
            for future in [pool.submit(asyncio.run, trivial(i)) for i in range(n)]:
                future.result()

    def plain_runs() -> None:
        for i in range(n):
            asyncio.run(trivial(i))

    rows = [
        ("await the coroutine", lambda: asyncio.run(plain_awaits()),
         "sequential, async flow, await t()", lambda: asyncio.run(sequential_awaits())),
        ("asyncio.gather of coroutines", lambda: asyncio.run(plain_gather()),
         "concurrent, async flow, gather", lambda: asyncio.run(concurrent_gather())),
        ("ThreadPoolExecutor, asyncio.run each", threads,
         "concurrent, sync flow, .map", concurrent_map),
        ("asyncio.run each", plain_runs,
         "sequential, sync flow, t()", sequential_calls),
    ]  # fmt: skip
    return [(raw_name, name, alternate(raw, ours, n, rounds)) for raw_name, raw, name, ours in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", help="write taskloom's per-task µs of each row there")
    options = parser.parse_args()
    # Log lines go through the real console handler, to a sink rather than the terminal.
    sink = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(2)
    os.dup2(sink, 2)
    try:
        results = measure(options.tasks, options.rounds)
    finally:
        os.dup2(saved, 2)
    python = sys.version.split()[0]
    print(f"Async tasks, {options.tasks} per round, {options.rounds} rounds (Python {python})")
    print(HEADER)
    for raw_name, name, comparison in results:
        print(comparison.row(raw_name, name))
    if options.json:
        import statistics

        figures = {name: statistics.median(c.ours) * 1e6 for _, name, c in results}
        with open(options.json, "w") as file:
            json.dump(figures, file)


if __name__ == "__main__":
    main()
