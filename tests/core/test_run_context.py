"""`taskloom.context`: the current run's names and ids, as attributes and as a mapping."""

from __future__ import annotations

from typing import Any

import pytest

import taskloom
from taskloom import flow, task
from taskloom.testing import InlineTaskRunner


@task
def task_context(_: int = 0) -> dict[str, Any]:
    return dict(taskloom.context)


def test_context_is_empty_outside_any_run() -> None:
    assert dict(taskloom.context) == {}
    with pytest.raises(AttributeError, match="outside any run"):
        taskloom.context.flow_name  # noqa: B018


def test_context_in_a_flow_run_names_the_flow_and_its_run() -> None:
    @flow(task_runner=InlineTaskRunner())
    def named() -> tuple[str, str, str]:
        context = taskloom.context
        return context.flow_name, context["flow_run_name"], context.get("flow_run_id")

    flow_name, run_name, run_id = named()

    assert flow_name == "named"
    assert run_name.count("-") == 1
    assert len(run_id) == 36


def test_context_in_a_task_run_names_the_task_and_its_run() -> None:
    @flow(task_runner=InlineTaskRunner())
    def outer() -> dict[str, Any]:
        return task_context.submit().result()  # type: ignore[no-any-return]

    values = outer()

    assert values["task_name"] == "task_context"
    assert values["task_run_name"].startswith("task_context-")
    assert values["map_index"] is None
    assert values["flow_name"] == "outer"


def test_context_map_index_is_each_runs_position_in_its_map() -> None:
    @flow(task_runner=InlineTaskRunner())
    def mapping() -> list[int]:
        return [f.result()["map_index"] for f in task_context.map([5, 6, 7])]

    assert mapping() == [0, 1, 2]


def test_context_image_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKLOOM_IMAGE", "flows-image:1.0")

    @flow(task_runner=InlineTaskRunner())
    def imaged() -> str:
        return taskloom.context.image  # type: ignore[no-any-return]

    assert imaged() == "flows-image:1.0"


def test_context_while_the_runner_starts_is_the_flow_runs() -> None:
    seen: list[str] = []

    class Watching(InlineTaskRunner):
        def start(self) -> None:
            seen.append(taskloom.context.flow_name)
            super().start()

    @flow(task_runner=Watching())
    def starting() -> None:
        pass

    starting()

    assert seen == ["starting"]
