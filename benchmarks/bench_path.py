"""What one task call costs on its way from `submit` to its final state, hook by hook.

    python benchmarks/bench_path.py [--tasks 10000] [--repeat 7]

On the sequential runner (the call runs inside `submit`, so nothing but taskloom's own path is
timed), `task.submit(x).result()` in a flow beside a plain call of the function, in
alternating rounds, with: the default hooks only (the engine calls the runner directly); a
plugin wrapping the runner's `submit` and `wait` hooks (every step goes through pluggy); and a
plugin taking the task-run notifications (`taskloom_task_run_submitted` / `_finished`); the
live progress display on (`TASKLOOM_PROGRESS=on`, drawing into /dev/null); and the default
hooks with the level at WARNING (no run log lines). Off, the display is not registered: the
"default hooks only" row is what a run without it costs. Log lines go through
taskloom's real console handler, with stderr redirected to /dev/null.
docs/architecture.md quotes the figures.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Generator
from typing import Any

from rich.console import Console

from _rounds import HEADER, alternate
from taskloom import flow, task
from taskloom._plugins import get_plugin_manager
from taskloom._progress import ProgressDisplay
from taskloom.hookspecs import hookimpl


def trivial(x: int) -> int:
    return x


trivial_task = task(trivial)


class WrapsTheRunner:
    """A plugin around the runner steps that does nothing but pass through."""

    @hookimpl(wrapper=True)
    def taskloom_runner_submit(self) -> Generator[None, Any, Any]:
        return (yield)

    @hookimpl(wrapper=True)
    def taskloom_runner_wait(self) -> Generator[None, Any, Any]:
        return (yield)


class CountsTaskRuns:
    """A plugin told of every task run submitted and finished."""

    def __init__(self) -> None:
        self.submitted = self.finished = 0

    @hookimpl
    def taskloom_task_run_submitted(self) -> None:
        self.submitted += 1

    @hookimpl
    def taskloom_task_run_finished(self) -> None:
        self.finished += 1


def progress_display() -> ProgressDisplay:
    """The live display, drawing into /dev/null (what `TASKLOOM_PROGRESS=on` registers)."""
    return ProgressDisplay(Console(file=open(os.devnull, "w"), width=120))


def flow_of(n: int) -> Callable[[], None]:
    @flow(task_runner="sequential")
    def submits() -> None:
        for i in range(n):
            trivial_task.submit(i).result()

    return submits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    n = args.tasks

    def plain() -> None:
        for i in range(n):
            trivial(i)

    ours = flow_of(n)
    plugins = get_plugin_manager()
    print(f"one task call's path, sequential runner, {n:,} tasks, {args.repeat} alternating rounds")
    print(HEADER)
    ours()  # configures the console handler and the level before any round
    taskloom_logger = logging.getLogger("taskloom")
    for label, plugin, level in (
        ("default hooks only", None, logging.INFO),
        ("  log lines off (WARNING)", None, logging.WARNING),
        ("+ runner steps wrapped", WrapsTheRunner(), logging.INFO),
        ("+ task-run notifications", CountsTaskRuns(), logging.INFO),
        ("+ progress display on", progress_display(), logging.INFO),
    ):
        if plugin is not None:
            plugins.register(plugin)
        taskloom_logger.setLevel(level)
        try:
            comparison = alternate(plain, ours, n, args.repeat)
        finally:
            taskloom_logger.setLevel(logging.INFO)
            if plugin is not None:
                plugins.unregister(plugin)
        print(comparison.row("plain call", label), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
