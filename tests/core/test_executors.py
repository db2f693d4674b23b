"""`taskloom.executors`: the older names of the task runners."""

from __future__ import annotations

import importlib

import pytest

import taskloom.executors


@pytest.mark.parametrize(
    ("alias", "runner"),
    [
        ("LocalExecutor", "SequentialTaskRunner"),
        ("SequentialExecutor", "SequentialTaskRunner"),
        ("LocalDaskExecutor", "LocalDaskTaskRunner"),
        ("DaskExecutor", "DaskTaskRunner"),
    ],
)
def test_executor_name_is_its_task_runner_class(fake_runners, alias: str, runner: str) -> None:
    expected = getattr(importlib.import_module("fake_runners"), runner)
    assert getattr(taskloom.executors, alias) is expected


def test_executor_import_of_a_missing_runner_names_the_package(installation) -> None:
    with pytest.raises(ImportError, match="pip install taskloom-dask"):
        from taskloom.executors import DaskExecutor  # noqa: F401


def test_executors_module_lists_the_four_names() -> None:
    assert sorted(taskloom.executors.__all__) == [
        "DaskExecutor",
        "LocalDaskExecutor",
        "LocalExecutor",
        "SequentialExecutor",
    ]


def test_unknown_executor_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        taskloom.executors.RayExecutor  # noqa: B018


def test_executor_class_configures_a_flow(fake_runners) -> None:
    from taskloom import flow
    from taskloom.executors import SequentialExecutor

    @flow(executor=SequentialExecutor)
    def old_style() -> int:
        return 1

    assert type(old_style.executor) is SequentialExecutor
    assert old_style() == 1


def test_a_flow_given_an_executor_logs_in_that_vocabulary(fake_runners, taskloom_log) -> None:
    from taskloom import flow, task
    from taskloom.executors import SequentialExecutor

    @task
    def hello() -> None:
        pass

    @flow(executor=SequentialExecutor)
    def old_words() -> None:
        hello()

    old_words()

    lines = taskloom_log.messages
    assert "Starting executor `SequentialExecutor`..." in lines
    assert any(line.endswith("to executor...") for line in lines)
    assert "Shutting down executor `SequentialExecutor`..." in lines


def test_a_flow_given_a_task_runner_keeps_the_newer_words(fake_runners, taskloom_log) -> None:
    from taskloom import flow
    from taskloom.executors import SequentialExecutor

    @flow(task_runner=SequentialExecutor)
    def new_words() -> None:
        pass

    new_words()

    assert "Starting task runner `SequentialTaskRunner`..." in taskloom_log.messages


def test_setting_flow_executor_switches_to_the_older_words(fake_runners, taskloom_log) -> None:
    from taskloom import flow
    from taskloom.executors import LocalExecutor

    @flow
    def later() -> None:
        pass

    later.executor = LocalExecutor()
    later()

    assert "Shutting down executor `SequentialExecutor`..." in taskloom_log.messages


def test_the_seeds_import_paths_work(fake_runners) -> None:
    from taskloom.engine.state import State
    from taskloom.task_runner import SequentialTaskRunner
    from taskloom.task_runners import SequentialTaskRunner as Runner

    assert SequentialTaskRunner is Runner
    assert State is taskloom.states.State
