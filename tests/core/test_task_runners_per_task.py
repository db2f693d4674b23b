"""`@task(task_runner=...)`: a task's runs on a runner of its own inside the flow's run."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any, ClassVar

import pytest

from taskloom import flow, task
from taskloom.futures import TaskloomFuture
from taskloom.hookspecs import hookimpl
from taskloom.task_runners import TaskCall
from taskloom.testing import InlineTaskRunner


class Recorded(InlineTaskRunner):
    """Runs each call at submission, recording what happened to runners of its class."""

    events: ClassVar[list[str]] = []

    def __init__(self, label: str = "recorded") -> None:
        super().__init__()
        self.label = label

    def _start(self) -> None:
        Recorded.events.append(f"start {self.label}")

    def _shutdown(self) -> None:
        Recorded.events.append(f"shutdown {self.label}")

    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        Recorded.events.append(f"{self.label} runs {call.task.name}")
        return super().submit(call, upstream)


@pytest.fixture(autouse=True)
def _no_events() -> None:
    Recorded.events = []


@task
def double(x: int) -> int:
    return 2 * x


@task(task_runner=Recorded("own"))
def increment(x: int) -> int:
    return x + 1


def test_a_task_naming_a_runner_runs_there_and_the_others_on_the_flows() -> None:
    @flow(task_runner=Recorded("flow's"))
    def both() -> int:
        return increment(double(1))

    assert both() == 3
    assert "flow's runs double" in Recorded.events
    assert "own runs increment" in Recorded.events


def test_the_tasks_runner_starts_when_first_needed_and_shuts_down_with_the_flow() -> None:
    @flow(task_runner=Recorded("flow's"))
    def later() -> int:
        first = double(1)
        return increment(first)

    later()
    assert Recorded.events == [
        "start flow's",
        "flow's runs double",
        "start own",
        "own runs increment",
        "shutdown flow's",
        "shutdown own",
    ]


def test_a_runner_not_needed_is_never_started() -> None:
    @flow(task_runner=Recorded("flow's"))
    def only_double() -> int:
        return double(1)

    only_double()
    assert "start own" not in Recorded.events


def test_a_future_from_one_runner_feeds_a_task_on_another_and_back() -> None:
    @flow(task_runner=Recorded("flow's"))
    def chain() -> int:
        return double.submit(increment.submit(double.submit(1))).result()

    assert chain() == 6


def test_with_options_gives_a_task_a_runner() -> None:
    elsewhere = double.with_options(task_runner=Recorded("other"))

    @flow(task_runner=Recorded("flow's"))
    def moved() -> list[int]:
        return elsewhere.map([1, 2]).result()

    assert moved() == [2, 4]
    assert Recorded.events.count("other runs double") == 2


def test_a_runner_configured_as_the_flows_is_the_flows() -> None:
    same = double.with_options(task_runner=Recorded("flow's"))

    @flow(task_runner=Recorded("flow's"))
    def one_runner() -> int:
        return same(1)

    one_runner()
    assert Recorded.events.count("start flow's") == 1


def test_runs_on_the_tasks_runner_count_in_the_flows_state() -> None:
    @task(task_runner=Recorded("own"))
    def fails() -> None:
        raise ValueError("no")

    @flow(task_runner=Recorded("flow's"))
    def with_a_failure() -> None:
        double.submit(1)
        fails.submit()

    assert with_a_failure(return_state=True).message == "1/2 states failed."


def test_a_task_runner_of_the_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="task_runner must be"):
        task(task_runner=42)(lambda: None)


def test_a_plugin_wrapping_the_runner_steps_sees_the_tasks_own_runner_too(
    register_plugin, thread_runner
) -> None:
    class Steps:
        def __init__(self) -> None:
            self.seen: list[tuple[str, str]] = []

        @hookimpl(wrapper=True)
        def taskloom_runner_start(self, runner: Any) -> Generator[None, Any, Any]:
            self.seen.append(("start", type(runner).__name__))
            return (yield)

        @hookimpl(wrapper=True)
        def taskloom_runner_submit(
            self, runner: Any, call: Any, upstream: Any
        ) -> Generator[None, Any, Any]:
            self.seen.append(("submit", type(runner).__name__))
            return (yield)

        @hookimpl(wrapper=True)
        def taskloom_runner_wait(
            self, runner: Any, future: Any, timeout: Any
        ) -> Generator[None, Any, Any]:
            self.seen.append(("wait", type(runner).__name__))
            return (yield)

        @hookimpl(wrapper=True)
        def taskloom_runner_shutdown(self, runner: Any) -> Generator[None, Any, Any]:
            self.seen.append(("shutdown", type(runner).__name__))
            return (yield)

    steps = register_plugin(Steps())
    on_threads = double.with_options(task_runner=thread_runner)

    @flow(task_runner=Recorded("flow's"))
    def both() -> int:
        return on_threads(1)

    assert both() == 2
    own = [step for step, runner in steps.seen if runner == "ThreadTaskRunner"]
    assert own == ["start", "submit", "wait", "shutdown"]


def test_a_graph_flows_node_of_a_task_naming_a_runner_runs_there() -> None:
    from taskloom import Flow

    with Flow("graph", task_runner=Recorded("flow's")) as graph_flow:
        result = increment(double(1))

    state = graph_flow.run()
    assert state.result[result].result() == 3
    assert "flow's runs double" in Recorded.events
    assert "own runs increment" in Recorded.events
