"""The live progress display (`TASKLOOM_PROGRESS`): a plugin on the lifecycle hooks."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import pytest
from rich.console import Console

from taskloom import flow, task
from taskloom._progress import ProgressDisplay, progress_setting
from taskloom.futures import TaskloomFuture
from taskloom.hookspecs import FlowRunInfo, hookimpl


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("value", "on"),
    [("on", True), ("ON", True), ("true", True), ("1", True), ("off", False), ("No", False)],
)
def test_the_setting_takes_on_and_off_in_any_case(value: str, on: bool) -> None:
    assert progress_setting({"TASKLOOM_PROGRESS": value}, io.StringIO()) is on


def test_auto_is_on_exactly_when_stderr_is_a_terminal() -> None:
    assert progress_setting({"TASKLOOM_PROGRESS": "auto"}, Terminal()) is True
    assert progress_setting({"TASKLOOM_PROGRESS": "auto"}, io.StringIO()) is False


def test_unset_means_auto() -> None:
    assert progress_setting({}, Terminal()) is True
    assert progress_setting({}, io.StringIO()) is False


def test_a_bad_setting_is_an_error_naming_the_variable_and_the_accepted_values() -> None:
    with pytest.raises(ValueError, match=r"TASKLOOM_PROGRESS='loud'.*auto.*on.*off"):
        progress_setting({"TASKLOOM_PROGRESS": "loud"}, io.StringIO())


@task
def square(x: int) -> int:
    return x * x


@task
def fails_on_thirds(x: int) -> int:
    if x % 3 == 0:
        raise ValueError(x)
    return x


def display(register_plugin: Any) -> io.StringIO:
    out = io.StringIO()
    register_plugin(ProgressDisplay(Console(file=out, width=120)))
    return out


def row(output: str, name: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith(name + " ")]
    assert lines, output
    return lines[-1]


def test_each_task_name_gets_a_row_with_its_done_and_failed_counts(
    register_plugin, thread_runner
) -> None:
    out = display(register_plugin)

    @flow(task_runner=thread_runner)
    def maps() -> None:
        square.map(range(12)).wait()
        fails_on_thirds.map(range(9)).wait()

    maps(return_state=True)
    assert re.search(r"12/12 +0 failed +0 running", row(out.getvalue(), "square"))
    assert re.search(r"9/9 +3 failed +0 running", row(out.getvalue(), "fails_on_thirds"))


def test_runs_the_flow_never_reads_are_counted_when_they_end(
    register_plugin, thread_runner
) -> None:
    out = display(register_plugin)

    @flow(task_runner=thread_runner)
    def submits_only() -> None:
        square.map(range(5))

    submits_only()
    assert re.search(r"5/5 +0 failed", row(out.getvalue(), "square"))


def test_a_subflows_runs_join_the_outer_flows_display(register_plugin, thread_runner) -> None:
    out = display(register_plugin)

    @flow(task_runner=thread_runner)
    def inner() -> None:
        square.map(range(3)).wait()

    @flow(task_runner=thread_runner)
    def outer() -> None:
        square.map(range(4)).wait()
        inner()

    outer()
    assert re.search(r"7/7 +0 failed", row(out.getvalue(), "square"))


def test_log_lines_go_back_to_their_stream_after_the_run(register_plugin, thread_runner) -> None:
    display(register_plugin)
    handlers = logging.getLogger("taskloom").handlers
    before = [getattr(handler, "stream", None) for handler in handlers]

    @flow(task_runner=thread_runner)
    def one() -> int:
        return square(2)

    assert one() == 4
    assert [getattr(handler, "stream", None) for handler in handlers] == before


class FutureRecorder:
    def __init__(self) -> None:
        self.names: list[str] = []

    @hookimpl
    def taskloom_task_run_future(self, flow_run: FlowRunInfo, future: TaskloomFuture) -> None:
        self.names.append(future.task_run_name)


def test_the_future_hook_is_told_each_task_run_once(register_plugin, thread_runner) -> None:
    recorder = register_plugin(FutureRecorder())

    @flow(task_runner=thread_runner)
    def runs() -> list[str]:
        return [f.task_run_name for f in [square.submit(1), *square.map(range(3))]]

    assert recorder.names == runs()


@pytest.mark.parametrize(("value", "registered"), [("on", True), ("off", False)])
def test_the_plugin_manager_registers_the_display_as_the_setting_says(
    monkeypatch: pytest.MonkeyPatch, value: str, registered: bool
) -> None:
    from taskloom import _plugins

    monkeypatch.setenv("TASKLOOM_PROGRESS", value)
    monkeypatch.setattr(_plugins, "_manager", None)
    assert _plugins.get_plugin_manager().has_plugin("taskloom.progress") is registered
