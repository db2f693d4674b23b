"""`TASKLOOM_TASK_RUN_LOGS=summary`: one line per map instead of two per task run."""

from __future__ import annotations

import re

import pytest

from taskloom import flow, task
from taskloom._logging import summarizes_maps


@pytest.mark.parametrize(
    ("value", "summary"), [("summary", True), ("Summary", True), ("each", False)]
)
def test_the_setting_takes_each_or_summary_in_any_case(value: str, summary: bool) -> None:
    assert summarizes_maps({"TASKLOOM_TASK_RUN_LOGS": value}) is summary


def test_each_is_the_default() -> None:
    assert summarizes_maps({}) is False


def test_a_bad_setting_is_an_error_naming_the_variable_and_the_accepted_values() -> None:
    with pytest.raises(ValueError, match=r"TASKLOOM_TASK_RUN_LOGS='quiet'.*each.*summary"):
        summarizes_maps({"TASKLOOM_TASK_RUN_LOGS": "quiet"})


@task
def double(x: int) -> int:
    if x < 0:
        raise ValueError(x)
    return 2 * x


@pytest.fixture
def summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKLOOM_TASK_RUN_LOGS", "summary")


def test_a_map_logs_one_line_with_its_outcomes_instead_of_each_runs_lines(
    summary, thread_runner, taskloom_log
) -> None:
    @flow(task_runner=thread_runner)
    def maps() -> list[int]:
        return double.map([1, 2, -3, 4]).result(raise_on_failure=False)

    maps()
    messages = taskloom_log.messages
    assert not [m for m in messages if m.startswith("Submitting task run")]
    # The failed run's traceback stays (at ERROR); its "finished" line goes.
    assert not [m for m in messages if " finished in state " in m and "double-" in m]
    lines = [m for m in messages if m.startswith("double: ")]
    assert len(lines) == 1, messages
    assert re.fullmatch(r"double: 4 runs, 3 Completed, 1 Failed in \d+\.\d s", lines[0])


def test_the_maps_line_comes_before_the_flow_runs_end(summary, thread_runner, taskloom_log):
    @flow(task_runner=thread_runner)
    def maps() -> None:
        double.map(range(3))

    maps()
    messages = taskloom_log.messages
    summary_at = next(i for i, m in enumerate(messages) if m.startswith("double: 3 runs"))
    end_at = next(i for i, m in enumerate(messages) if " finished in state " in m)
    assert summary_at < end_at


def test_by_default_each_run_logs_its_lines_and_no_map_line(thread_runner, taskloom_log) -> None:
    @flow(task_runner=thread_runner)
    def maps() -> None:
        double.map(range(3)).wait()

    maps()
    messages = taskloom_log.messages
    assert sum(m.startswith("Submitting task run 'double-") for m in messages) == 3
    assert sum(m.startswith("Task run 'double-") for m in messages) == 3
    assert not any("runs," in m for m in messages)
