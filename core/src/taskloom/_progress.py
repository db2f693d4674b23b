"""The live progress display: a plugin on the flow and task lifecycle hooks, drawn with rich.

One row per task name, for the outermost flow run and everything it submits (subflows too):
runs done, failed and still running (submitted, not yet final: queued ones included), the rate
at which they finish and the time left at that rate. `TASKLOOM_PROGRESS` says when: `auto` (the
default) when the process's stderr is a terminal, `on` or `off`. Read once, when the first flow
run of the process loads the plugins. Off, the plugin is not registered, so the engine pays
nothing for it (it calls a notification hook only while some plugin implements it).
"""

from __future__ import annotations

import collections
import logging
import os
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from taskloom.hookspecs import FlowRunInfo, hookimpl

if TYPE_CHECKING:
    from taskloom.futures import TaskloomFuture
    from taskloom.states import State

SETTING = "TASKLOOM_PROGRESS"
_ON = ("on", "true", "1", "yes")
_OFF = ("off", "false", "0", "no")
_REFRESH_SECONDS = 0.1


def progress_setting(environ: Any = os.environ, stream: Any = None) -> bool:
    """Whether the display is on, from `TASKLOOM_PROGRESS` (`auto`, `on` or `off`, in any case;
    also true/false, yes/no, 1/0); `auto` and unset mean: when `stream` (stderr) is a terminal.
    """
    value = environ.get(SETTING, "auto").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    if value not in ("auto", ""):
        raise ValueError(
            f"{SETTING}={environ[SETTING]!r} is not a setting; use one of: auto (the default: "
            "on when stderr is a terminal), on, off"
        )
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@dataclass
class _Row:
    """One task name's counts; `submitted` grows in the submitting threads, the others in the
    display's thread, which alone reads states."""

    submitted: int = 0
    done: int = 0
    failed: int = 0
    row_id: Any = None


class ProgressDisplay:
    """The plugin: counts what the hooks tell, draws it every `_REFRESH_SECONDS` meanwhile."""

    def __init__(self, console: Any = None) -> None:
        self._console = console
        self._lock = threading.Lock()
        self._depth = 0
        self._rows: dict[str, _Row] = {}
        #: every run of the display's flow runs, for the final counts: a done callback may
        #: still be on its way when the flow run ends
        self._all: list[TaskloomFuture] = []
        # Filled by done callbacks, which may run in an engine's thread and must not block.
        self._ended: collections.deque[TaskloomFuture] = collections.deque()
        self._progress: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._streams: list[tuple[logging.StreamHandler[Any], Any]] = []

    @hookimpl
    def taskloom_flow_run_started(self, flow_run: FlowRunInfo) -> None:
        with self._lock:
            self._depth += 1
            if self._depth == 1:
                self._start()

    @hookimpl
    def taskloom_task_run_future(self, flow_run: FlowRunInfo, future: TaskloomFuture) -> None:
        name = future.call.task.name
        with self._lock:
            row = self._rows.get(name)
            if row is None:
                row = self._rows[name] = _Row()
            row.submitted += 1
            self._all.append(future)
        future.add_done_callback(self._ended.append)

    @hookimpl
    def taskloom_flow_run_finished(self, flow_run: FlowRunInfo, state: State) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self._finish()

    # -- drawing ------------------------------------------------------------------------------

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._rows = {}
        self._all = []
        self._ended.clear()
        console = self._console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TextColumn("{task.fields[running]} running"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            auto_refresh=False,
            redirect_stdout=True,
            redirect_stderr=True,
        )
        self._progress.start()
        self._lines_above_the_display()
        self._stop.clear()
        self._thread = threading.Thread(target=self._refresh, name="taskloom-progress", daemon=True)
        self._thread.start()

    def _lines_above_the_display(self) -> None:
        """Point the `taskloom` console handler at the stderr rich now holds, so log lines
        print above the display instead of through it (the handler keeps the stream it was
        given; rich replaced `sys.stderr` with a proxy that knows about the display)."""
        for handler in logging.getLogger("taskloom").handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream in (
                sys.__stderr__,
                getattr(sys.stderr, "rich_proxied_file", None),
            ):
                self._streams.append((handler, handler.setStream(sys.stderr)))

    def _refresh(self) -> None:
        while not self._stop.wait(_REFRESH_SECONDS):
            self._draw()

    def _draw(self) -> None:
        progress = self._progress
        while self._ended:
            self._count(self._ended.popleft())
        self._render(progress)

    def _count(self, future: TaskloomFuture) -> None:
        row = self._rows[future.call.task.name]
        if future.state.is_completed():
            row.done += 1
        else:
            row.failed += 1

    def _render(self, progress: Any) -> None:
        for name, row in list(self._rows.items()):
            ended = row.done + row.failed
            if row.row_id is None:
                row.row_id = progress.add_task(
                    name, total=row.submitted, failed=0, running=0, rate=""
                )
            speed = progress.tasks[row.row_id].speed
            progress.update(
                row.row_id,
                total=row.submitted,
                completed=ended,
                failed=row.failed,
                running=row.submitted - ended,
                rate="" if not speed else f"{speed:,.0f}/s",
            )
        progress.refresh()

    def _finish(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            # Every run has ended: count them all from their states.
            self._ended.clear()
            for row in self._rows.values():
                row.done = row.failed = 0
            for future in self._all:
                self._count(future)
            self._render(self._progress)
        finally:
            self._all = []
            for handler, stream in self._streams:
                handler.setStream(stream)
            self._streams = []
            self._progress.stop()
            self._progress = None
