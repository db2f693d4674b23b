"""Graph flows, the seeds' first vocabulary: `with Flow("name") as flow:` records task calls,
`flow.run()` runs them on the flow's runner and returns the final state."""

from __future__ import annotations

import threading

import pytest

from taskloom import Flow, Parameter, flow, task, unmapped
from taskloom.testing import InlineTaskRunner

from .conftest import ThreadTaskRunner


@task
def inc(x: int) -> int:
    return x + 1


@task
def add(x: int, y: int) -> int:
    return x + y


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@task
def fail() -> int:
    raise ValueError("no luck")


def test_a_task_call_inside_the_block_records_a_node_and_runs_nothing() -> None:
    ran = []

    @task
    def note() -> None:
        ran.append(1)

    with Flow("recording", task_runner=InlineTaskRunner()) as graph_flow:
        note()

    assert ran == []
    assert graph_flow.graph is not None and len(graph_flow.graph.nodes) == 1


def test_run_returns_the_final_state_with_each_nodes_state_by_node() -> None:
    with Flow("edges", task_runner=InlineTaskRunner()) as graph_flow:
        a = inc(1)
        b = inc(a)
        c = add(a, b)

    state = graph_flow.run()

    assert state.is_completed()
    assert state.result[a].result() == 2
    assert state.result[b].result() == 3
    assert state.result[c].result() == 5


def test_a_task_recorded_once_indexes_its_own_state() -> None:
    with Flow("by-task", task_runner=InlineTaskRunner()) as graph_flow:
        total([1, 2, 3])

    assert graph_flow.run().result[total].result() == 6


def test_a_task_recorded_twice_cannot_stand_for_either_call() -> None:
    with Flow("twice", task_runner=InlineTaskRunner()) as graph_flow:
        inc(1)
        inc(2)

    with pytest.raises(KeyError, match="called 2 times"):
        graph_flow.run().result[inc]


def test_parameters_take_run_values_and_defaults() -> None:
    with Flow("params", task_runner=InlineTaskRunner()) as graph_flow:
        x = Parameter("x")
        y = Parameter("y", default=10)
        s = add(x, y)

    assert graph_flow.run(parameters={"x": 1}).result[s].result() == 11
    assert graph_flow.run(x=1, y=2).result[s].result() == 3


def test_an_unknown_parameter_is_an_error_naming_the_known_ones() -> None:
    with Flow("params", task_runner=InlineTaskRunner()) as graph_flow:
        inc(Parameter("x", default=1))

    with pytest.raises(ValueError, match=r"Unknown parameter\(s\) 'z'.*parameters are: 'x'"):
        graph_flow.run(parameters={"z": 1})


def test_a_missing_required_parameter_is_an_error_naming_it() -> None:
    with Flow("params", task_runner=InlineTaskRunner()) as graph_flow:
        inc(Parameter("x"))

    with pytest.raises(ValueError, match=r"Missing required parameter.*'x'"):
        graph_flow.run()


def test_a_mapped_node_runs_once_per_element_and_feeds_a_mapped_downstream() -> None:
    with Flow("maps", task_runner=InlineTaskRunner()) as graph_flow:
        first = inc.map([1, 2, 3])
        second = inc.map(first)
        summed = total(second)

    state = graph_flow.run()

    assert state.result[first].result() == [2, 3, 4]
    assert [s.result() for s in state.result[second].map_states] == [3, 4, 5]
    assert state.result[summed].result() == 12


def test_a_map_over_an_upstream_result_maps_over_its_elements() -> None:
    @task
    def numbers(n: int) -> list[int]:
        return list(range(n))

    with Flow("dynamic", task_runner=InlineTaskRunner()) as graph_flow:
        mapped = add.map(numbers(3), unmapped(100))

    assert graph_flow.run().result[mapped].result() == [100, 101, 102]


def test_upstream_tasks_orders_a_node_after_another_without_its_result() -> None:
    order = []

    @task
    def step(name: str) -> None:
        order.append(name)

    with Flow("order", task_runner=ThreadTaskRunner()) as graph_flow:
        first = step("first")
        step("second", upstream_tasks=[first])

    assert graph_flow.run().is_completed()
    assert order == ["first", "second"]


def test_independent_nodes_run_at_the_same_time() -> None:
    barrier = threading.Barrier(2, timeout=10)

    @task
    def meet() -> bool:
        barrier.wait()
        return True

    with Flow("parallel", task_runner=ThreadTaskRunner()) as graph_flow:
        one, two = meet(), meet.with_options(name="meet-too")()

    state = graph_flow.run()

    assert state.result[one].result() and state.result[two].result()


def test_a_failed_node_fails_the_run_and_its_downstream_is_not_ready() -> None:
    with Flow("failing", task_runner=InlineTaskRunner()) as graph_flow:
        broken = fail()
        after = inc(broken)
        mapped = inc.map(broken)

    state = graph_flow.run()

    assert state.is_failed()
    assert state.result[broken].is_failed()
    assert state.result[after].name == "NotReady"
    assert [s.name for s in state.result[mapped].map_states] == ["NotReady"]
    with pytest.raises(ValueError, match="no luck"):
        state.result()


def test_a_cycle_is_an_error_naming_its_tasks() -> None:
    @task
    def left(x: int = 0) -> int:
        return x

    @task
    def right(x: int) -> int:
        return x

    with Flow("cycle", task_runner=InlineTaskRunner()) as graph_flow:
        a = left()
        b = right(a)
    a.set_upstream(b)

    with pytest.raises(ValueError, match="cycle: 'left' -> 'right' -> 'left'"):
        graph_flow.run()


def test_running_an_empty_graph_says_so() -> None:
    with pytest.raises(ValueError, match="has no tasks"):
        Flow("empty", task_runner=InlineTaskRunner()).run()


def test_run_takes_an_executor_for_that_run_only() -> None:
    used = []

    class Recording(InlineTaskRunner):
        def start(self) -> None:
            used.append(self)
            super().start()

    with Flow("override", task_runner=InlineTaskRunner()) as graph_flow:
        inc(1)

    assert graph_flow.run(executor=Recording()).is_completed()
    assert len(used) == 1
    assert type(graph_flow.executor) is InlineTaskRunner


def test_the_executor_set_later_is_the_one_a_run_uses() -> None:
    class Later(InlineTaskRunner):
        pass

    with Flow("later") as graph_flow:  # its default runner is looked up only if needed
        inc(1)
    graph_flow.executor = Later()

    assert isinstance(graph_flow.task_runner, Later)
    assert graph_flow.run().is_completed()


def test_calling_a_task_outside_any_flow_still_calls_the_function() -> None:
    assert inc(1) == 2


def test_calling_a_task_inside_a_flow_function_still_runs_it() -> None:
    @flow(task_runner=InlineTaskRunner())
    def function_flow() -> int:
        return inc(1)

    assert function_flow() == 2


def test_a_graph_built_inside_a_flow_run_records_instead_of_running() -> None:
    @flow(task_runner=InlineTaskRunner())
    def outer() -> int:
        with Flow("inner", task_runner=InlineTaskRunner()) as inner:
            node = inc(41)
        return inner.run().result[node].result()  # type: ignore[no-any-return]

    assert outer() == 42


def test_a_function_flow_has_no_with_block() -> None:
    @flow(task_runner=InlineTaskRunner())
    def function_flow() -> None:
        pass

    with pytest.raises(TypeError, match="takes a name"), function_flow:
        pass


def test_nodes_a_run_never_got_to_are_cancelled() -> None:
    class Unstartable(InlineTaskRunner):
        def start(self) -> None:
            raise RuntimeError("cannot start")

    with Flow("never", task_runner=Unstartable()) as graph_flow:
        node = inc(1)

    state = graph_flow.run()

    assert state.is_failed()
    assert state.result[node].is_cancelled()


def test_state_result_called_is_the_flows_result() -> None:
    with Flow("called", task_runner=InlineTaskRunner()) as graph_flow:
        inc(1)

    state = graph_flow.run()

    assert state.result() is None
    assert state.message == "All states completed."
