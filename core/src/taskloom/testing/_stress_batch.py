"""A batch process of the stress harness: runs one after another, with random pauses."""

from __future__ import annotations

import argparse
import faulthandler
import importlib
import json
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Generator
from pathlib import Path
from typing import Any

from taskloom import _process_tree
from taskloom.testing._scenarios import SCENARIOS
from taskloom.testing._stress_processes import load_runner, outlived, process_wide


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
        def taskloom_runner_submit_batch(self, runner: Any, calls: Any) -> Any:
            return (yield from pauses.around())

        @hookimpl(wrapper=True)
        def taskloom_runner_wait(self, runner: Any, future: Any, timeout: Any) -> Any:
            return (yield from pauses.around())

        @hookimpl(wrapper=True)
        def taskloom_runner_shutdown(self, runner: Any) -> Any:
            return (yield from pauses.around())

    return PausePlugin()


_SWITCH_INTERVALS = (1e-6, 1e-5, 1e-4, 1e-3, 5e-3)


def run_batch(args: argparse.Namespace) -> None:
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
            left = [pid for pid in outlived(new) if not process_wide(pid)]
            if left and error is None:
                error = f"processes left behind: {left}"
            outcome = {"scenario": name, "ok": error is None, "error": error, "seconds": seconds}
            results.write(json.dumps(outcome) + "\n")
            results.flush()
            shutil.rmtree(workdir, ignore_errors=True)
    if callable(teardown):
        teardown()
