"""The stress harness: each scenario run many times, in fresh processes, with random delays.

    python -m taskloom.testing.stress --runner SPEC [--scenario NAME ...] [--runs 1000]
        [--batch 50] [--jobs 1] [--timeout 60] [--jitter 0.002] [--setup MODULE:FUNCTION]
        [--json PATH]

`SPEC` is any string `task_runner=` takes (a runner name, class name, import path or address)
or `module:function`, a function returning an unstarted runner (`pkg.runners:two_threads`).

Every scenario of `taskloom.testing` (see `SCENARIOS`) runs `--runs` times, in batches of
`--batch` runs sharing one fresh process (the scenarios taking turns in it), `--jobs` batches
at a time. Each run:

- waits at random points: each task sleeps up to `--jitter` seconds first; half the runs go
  through a hook plugin that pauses as long around every runner step (start, submit, wait,
  shutdown); and the interpreter switches threads at a random interval, down to 1 µs;
- has `--timeout` seconds: a run still going then is *hung*, and every thread's stack is
  dumped (faulthandler) into the report;
- is *wrong* when its result is, or when it left a process behind (one it started that is
  still alive 5 s after it ended; multiprocessing's resource tracker, which lives as long as
  the process that started it, aside).

The `ctrl-c` scenario runs each time in a process of its own: a flow maps 400 tasks of 50 ms,
and once they run it gets SIGINT or SIGTERM (alternately) sent to its process group, as a
terminal's Ctrl-C is. It must exit within `--timeout` seconds with 130 or 143, print fewer than
10 lines in response (the map's own submission and completion lines aside), say its run was
`Cancelled`, and leave no process behind.

`--setup MODULE:FUNCTION` is called once in every batch process before its runs (to start an
engine the runs share, say); what it returns, if callable, is called after them. The exit status
is 0 when no run hung or went wrong.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskloom.testing._ctrl_c import ctrl_c_run
from taskloom.testing._scenarios import SCENARIOS
from taskloom.testing._stress_batch import run_batch
from taskloom.testing._stress_processes import (
    LEFTOVER_GRACE,
    Options,
    environment,
    kill_group,
    load_runner,
    process_wide,
    tail,
)

__all__ = [
    "ALL_SCENARIOS",
    "Options",
    "Tally",
    "ctrl_c_run",
    "load_runner",
    "main",
    "process_wide",
    "stress",
]

CTRL_C = "ctrl-c"
ALL_SCENARIOS = (*SCENARIOS, CTRL_C)
_HANG_MARKER = "Timeout ("


# -- what is reported ---------------------------------------------------------------------------


@dataclass
class Tally:
    """The outcome of one scenario's runs on one runner."""

    scenario: str
    runs: int = 0
    hung: int = 0
    wrong: int = 0
    seconds: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, outcome: dict[str, Any]) -> None:
        self.runs += 1
        if outcome.get("hung"):
            self.hung += 1
        elif not outcome["ok"]:
            self.wrong += 1
        if "seconds" in outcome:
            self.seconds.append(outcome["seconds"])
        if outcome.get("error") and len(self.problems) < 5:
            self.problems.append(outcome["error"])

    @property
    def clean(self) -> bool:
        return self.hung == 0 and self.wrong == 0

    def row(self) -> str:
        median = statistics.median(self.seconds) if self.seconds else float("nan")
        longest = max(self.seconds) if self.seconds else float("nan")
        return (
            f"{self.scenario:<20}{self.runs:>6}{self.hung:>6}{self.wrong:>6}"
            f"{median:>10.3f}{longest:>10.3f}"
        )


HEADER = f"{'scenario':<20}{'runs':>6}{'hung':>6}{'wrong':>6}{'median s':>10}{'max s':>10}"


# -- the parent: batches of runs in fresh processes ----------------------------------------------


def _run_batch(options: Options, batch: list[str]) -> list[dict[str, Any]]:
    """Run the scenarios of `batch`, a run each, in one fresh process; their outcomes, which
    name their scenario (fewer than the batch when one hung or crashed: the caller runs the
    rest in another batch)."""
    with tempfile.TemporaryDirectory(prefix="taskloom-stress-") as folder:
        results, log = Path(folder) / "results.jsonl", Path(folder) / "stderr"
        command = [
            sys.executable,
            "-m",
            "taskloom.testing.stress",
            "--worker",
            ",".join(batch),
            "--runner",
            options.runner,
            "--timeout",
            str(options.timeout),
            "--jitter",
            str(options.jitter),
            "--results",
            str(results),
        ]
        if options.setup:
            command += ["--setup", options.setup]
        limit = len(batch) * (options.timeout + LEFTOVER_GRACE) + 120
        with open(log, "wb") as stderr:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=environment(options),
                start_new_session=True,
            )
            try:
                process.wait(limit)
                killed = False
            except subprocess.TimeoutExpired:
                kill_group(process)
                killed = True
        outcomes = (
            [json.loads(line) for line in results.read_text().splitlines()]
            if results.exists()
            else []
        )
        if (process.returncode != 0 or killed) and len(outcomes) < len(batch):
            text = log.read_text(errors="replace")
            hung = killed or _HANG_MARKER in text
            if hung and _HANG_MARKER in text:
                # The last log lines before the hang, then every thread's stack.
                at = text.rindex(_HANG_MARKER)
                what = f"hung:\n{tail(text[:at], 30)}\n{text[at:]}"
            elif hung:
                what = f"hung, and its process did not answer:\n{tail(text, 60)}"
            else:
                what = f"ended its process (status {process.returncode}):\n{tail(text, 60)}"
            outcomes.append(
                {
                    "scenario": batch[len(outcomes)],
                    "ok": False,
                    "hung": hung,
                    "error": f"run {len(outcomes) + 1} of a batch {what}",
                }
            )
        return outcomes


def _plan(scenarios: Sequence[str], runs: int, batch: int) -> list[list[str]]:
    """The batches: every scenario's runs, taking turns, `batch` runs to a process."""
    order = [name for _ in range(runs) for name in scenarios]
    return [order[start : start + batch] for start in range(0, len(order), batch)]


def stress(options: Options, scenarios: Sequence[str], out: Any = sys.stdout) -> list[Tally]:
    """Run the scenarios; print a row for each and what went wrong; return their tallies."""
    tallies = {name: Tally(name) for name in scenarios}
    in_process = [name for name in scenarios if name != CTRL_C]
    pending = _plan(in_process, options.runs, options.batch)
    if CTRL_C in tallies:
        pending += [[CTRL_C]] * options.runs
    lock = threading.Lock()
    interrupted = 0

    def serve() -> None:
        nonlocal interrupted
        while True:
            with lock:
                if not pending:
                    return
                batch = pending.pop(0)
                number = interrupted
                if batch == [CTRL_C]:
                    interrupted += 1
            if batch == [CTRL_C]:
                outcomes = [{"scenario": CTRL_C, **_ctrl_c_run(options, number)}]
            else:
                outcomes = _run_batch(options, batch)
            with lock:
                for outcome in outcomes:
                    tallies[outcome["scenario"]].add(outcome)
                # The run that hung or crashed has its outcome; those after it run again.
                if len(outcomes) < len(batch):
                    pending.append(batch[len(outcomes) :])

    with ThreadPoolExecutor(options.jobs) as pool:
        for done in [pool.submit(serve) for _ in range(options.jobs)]:
            done.result()
    print(f"{options.runner}: {options.runs} runs per scenario", file=out)
    print(HEADER, file=out)
    for tally in tallies.values():
        print(tally.row(), file=out)
    for tally in tallies.values():
        for problem in tally.problems:
            print(f"\n--- {tally.scenario}: {problem}", file=out)
    out.flush()
    return list(tallies.values())


# -- the Ctrl-C scenario -------------------------------------------------------------------------


def _ctrl_c_run(options: Options, number: int) -> dict[str, Any]:
    signum = signal.SIGINT if number % 2 == 0 else signal.SIGTERM
    return ctrl_c_run(options.runner, signum, options.timeout, options.jitter)


# -- the command line ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m taskloom.testing.stress", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--runner", required=True, help="a task_runner= string or module:function")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=ALL_SCENARIOS,
        help="a scenario to run (repeatable; default: all)",
    )
    parser.add_argument("--runs", type=int, default=1000, help="runs of each scenario")
    parser.add_argument("--batch", type=int, default=50, help="runs sharing one process")
    parser.add_argument("--jobs", type=int, default=1, help="batch processes at a time")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds a run may take")
    parser.add_argument("--jitter", type=float, default=0.002, help="longest random pause, s")
    parser.add_argument("--setup", help="module:function called in each batch process first")
    parser.add_argument("--json", help="write the tallies there as JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_batch(args)
        return 0
    options = Options(
        args.runner, args.runs, args.batch, args.jobs, args.timeout, args.jitter, args.setup
    )
    tallies = stress(options, args.scenario or ALL_SCENARIOS)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "runner": args.runner,
                    "scenarios": {
                        t.scenario: {"runs": t.runs, "hung": t.hung, "wrong": t.wrong}
                        for t in tallies
                    },
                },
                indent=2,
            )
        )
    return 0 if all(t.clean for t in tallies) else 1


if __name__ == "__main__":
    sys.exit(main())
