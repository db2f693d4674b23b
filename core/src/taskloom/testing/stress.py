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
import contextlib
import faulthandler
import importlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskloom import _process_tree
from taskloom.task_runners import TaskRunner
from taskloom.testing._scenarios import SCENARIOS
from taskloom.testing._stress_tasks import JITTER_VARIABLE

CTRL_C = "ctrl-c"
ALL_SCENARIOS = (*SCENARIOS, CTRL_C)
#: How long a process a run started may outlive the run.
LEFTOVER_GRACE = 5.0
#: Lines a flow may print in response to Ctrl-C.
CTRL_C_LINES = 10
_CTRL_C_TASKS = 400
# The map's own progress, which may still be on its way out when the signal arrives.
_ROUTINE = ("Submitting task run", "finished in state Completed")
_HANG_MARKER = "Timeout ("


def load_runner(spec: str) -> TaskRunner:
    """The runner `spec` names: a `task_runner=` string, or `module:function` returning one."""
    module_name, colon, attribute = spec.partition(":")
    if colon and "://" not in spec and module_name.replace(".", "").isidentifier():
        target = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(target, TaskRunner) and not isinstance(target, type):
            target = target()
        if isinstance(target, type) and issubclass(target, TaskRunner):
            target = target()
        if not isinstance(target, TaskRunner):
            raise TypeError(f"{spec!r} gives {target!r}, which is not a task runner")
        return target
    from taskloom._registry import resolve_task_runner

    return resolve_task_runner(spec)


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


@dataclass
class Options:
    runner: str
    runs: int
    batch: int
    jobs: int
    timeout: float
    jitter: float
    setup: str | None


def _environment(options: Options) -> dict[str, str]:
    env = dict(os.environ)
    env[JITTER_VARIABLE] = str(options.jitter)
    # A runner named by `module:function` imports from here, as it did in this process.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (os.getcwd(), env.get("PYTHONPATH"))))
    env["PYTHONUNBUFFERED"] = "1"
    return env


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
                env=_environment(options),
                start_new_session=True,
            )
            try:
                process.wait(limit)
                killed = False
            except subprocess.TimeoutExpired:
                _kill_group(process)
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
                what = f"hung:\n{_tail(text[:at], 30)}\n{text[at:]}"
            elif hung:
                what = f"hung, and its process did not answer:\n{_tail(text, 60)}"
            else:
                what = f"ended its process (status {process.returncode}):\n{_tail(text, 60)}"
            outcomes.append(
                {
                    "scenario": batch[len(outcomes)],
                    "ok": False,
                    "hung": hung,
                    "error": f"run {len(outcomes) + 1} of a batch {what}",
                }
            )
        return outcomes


def _kill_group(process: subprocess.Popen[Any]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


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


def ctrl_c_run(runner: str, signum: int, timeout: float, jitter: float = 0.0) -> dict[str, Any]:
    """One run of the Ctrl-C scenario: `{"ok": True, ...}`, or `"ok": False` and the `"error"`
    saying what went wrong (with the end of what the flow printed)."""
    options = Options(runner, 1, 1, 1, timeout, jitter, None)
    expected_codes = {-signal.SIGINT, 130} if signum == signal.SIGINT else {143}
    with tempfile.TemporaryDirectory(prefix="taskloom-ctrl-c-") as folder:
        marker, script = Path(folder) / "started", Path(folder) / "long_map.py"
        script.write_text(_CTRL_C_SCRIPT.format(tasks=_CTRL_C_TASKS))
        env = _environment(options)
        env.update(TASKLOOM_STRESS_RUNNER=options.runner, TASKLOOM_STRESS_MARKER=str(marker))
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, str(script)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        lines: list[tuple[float, str]] = []
        assert process.stdout is not None
        reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
        reader.start()
        try:
            return _interrupt(process, marker, signum, expected_codes, lines, options, started)
        finally:
            if process.poll() is None:
                _kill_group(process)
            reader.join(10)
            process.stdout.close()


def _read_lines(stream: Any, lines: list[tuple[float, str]]) -> None:
    for raw in iter(stream.readline, b""):
        lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))


def _interrupt(
    process: subprocess.Popen[bytes],
    marker: Path,
    signum: int,
    expected_codes: set[int],
    lines: list[tuple[float, str]],
    options: Options,
    started: float,
) -> dict[str, Any]:
    def wrong(why: str, hung: bool = False) -> dict[str, Any]:
        output = "\n".join(line for _, line in lines)
        return {"ok": False, "hung": hung, "error": f"{why}\n{_tail(output, 60)}"}

    deadline = started + options.timeout
    while not marker.exists():
        if process.poll() is not None:
            return wrong(f"the flow ended ({process.returncode}) before its map began")
        if time.monotonic() > deadline:
            return wrong("the map never began", hung=True)
        time.sleep(0.01)
    time.sleep(random.uniform(0, 0.5))
    processes = _process_tree.started_since(0.0, root=process.pid)
    sent = time.monotonic()
    os.killpg(process.pid, signum)
    try:
        process.wait(options.timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.kill(process.pid, signal.SIGUSR1)  # the child dumps its threads' stacks
        time.sleep(1)
        return wrong(f"still running {options.timeout} s after {signum!r}", hung=True)
    seconds = time.monotonic() - sent
    time.sleep(0.2)  # the reader's last lines
    response = [line for at, line in lines if at >= sent and not any(r in line for r in _ROUTINE)]
    left = _outlived(processes)
    if process.returncode not in expected_codes:
        return wrong(f"exit status {process.returncode} after {signum!r}")
    if len(response) >= CTRL_C_LINES:
        return wrong(f"{len(response)} lines printed in response to {signum!r}")
    if not any("finished in state Cancelled(" in line for _, line in lines):
        return wrong("the flow run did not end Cancelled")
    if left:
        return wrong(f"processes left behind: {left}")
    return {"ok": True, "seconds": seconds, "lines": len(response)}


# Helpers a process starts once and keeps till it exits: multiprocessing's resource tracker,
# which the first pool of spawned workers starts.
_PROCESS_WIDE = (b"multiprocessing.resource_tracker",)


def _process_wide(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            command = file.read()
    except OSError:
        return False
    return any(helper in command for helper in _PROCESS_WIDE)


def _outlived(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + LEFTOVER_GRACE
    while (left := _process_tree.alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


# What the Ctrl-C scenario runs: a script, as a user's flow would be, so that the traceback
# Python prints for the interrupt is as long as a user would see.
_CTRL_C_SCRIPT = """
import faulthandler, os, signal

from taskloom import flow, unmapped
from taskloom.testing import _stress_tasks as t
from taskloom.testing.stress import load_runner

# From the environment, which the runner's worker processes share, not argv, which they lack.
marker = os.environ["TASKLOOM_STRESS_MARKER"]


@flow(task_runner=load_runner(os.environ["TASKLOOM_STRESS_RUNNER"]))
def long_map():
    return [f.result() for f in t.slow.map(unmapped(marker), [0.05] * {tasks})]


if __name__ == "__main__":
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    long_map()
"""


# -- a batch process -----------------------------------------------------------------------------


class _Pauses:
    """Hook wrappers that pause a random moment before and after each runner step."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def pause(self) -> None:
        time.sleep(random.uniform(0, self.seconds))

    def around(self) -> Generator[None, Any, Any]:
        """A hook wrapper's body: pause, let the step run, pause, pass its result on."""
        self.pause()
        result = yield
        self.pause()
        return result


def _pause_plugin(seconds: float) -> object:
    from taskloom.hookspecs import hookimpl

    pauses = _Pauses(seconds)

    class PausePlugin:
        @hookimpl(wrapper=True)
        def taskloom_runner_start(self, runner: Any) -> Any:
            return (yield from pauses.around())

        @hookimpl(wrapper=True)
        def taskloom_runner_submit(self, runner: Any, call: Any, upstream: Any) -> Any:
            return (yield from pauses.around())

        @hookimpl(wrapper=True)
        def taskloom_runner_wait(self, runner: Any, future: Any, timeout: Any) -> Any:
            return (yield from pauses.around())

        @hookimpl(wrapper=True)
        def taskloom_runner_shutdown(self, runner: Any) -> Any:
            return (yield from pauses.around())

    return PausePlugin()


_SWITCH_INTERVALS = (1e-6, 1e-5, 1e-4, 1e-3, 5e-3)


def _batch(args: argparse.Namespace) -> None:
    from taskloom._plugins import get_plugin_manager

    scenarios = args.worker.split(",")
    runner = load_runner(args.runner)
    teardown = None
    if args.setup:
        module_name, _, function = args.setup.partition(":")
        teardown = getattr(importlib.import_module(module_name), function)()
    plugins = get_plugin_manager()
    plugin = _pause_plugin(args.jitter)
    began = _process_tree.now()
    default_interval = sys.getswitchinterval()
    with open(args.results, "a", encoding="utf-8") as results:
        for name in scenarios:
            paused = random.random() < 0.5
            if paused:
                plugins.register(plugin)
            sys.setswitchinterval(random.choice(_SWITCH_INTERVALS))
            before = set(_process_tree.started_since(began))
            workdir = Path(tempfile.mkdtemp(prefix="taskloom-run-"))
            faulthandler.dump_traceback_later(args.timeout, exit=True)
            start = time.monotonic()
            error = None
            try:
                SCENARIOS[name](runner, workdir)
            except BaseException:
                error = traceback.format_exc()
            finally:
                faulthandler.cancel_dump_traceback_later()
                seconds = time.monotonic() - start
                sys.setswitchinterval(default_interval)
                if paused:
                    plugins.unregister(plugin)
            new = [pid for pid in _process_tree.started_since(began) if pid not in before]
            left = [pid for pid in _outlived(new) if not _process_wide(pid)]
            if left and error is None:
                error = f"processes left behind: {left}"
            outcome = {"scenario": name, "ok": error is None, "error": error, "seconds": seconds}
            results.write(json.dumps(outcome) + "\n")
            results.flush()
            shutil.rmtree(workdir, ignore_errors=True)
    if callable(teardown):
        teardown()


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
        _batch(args)
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
