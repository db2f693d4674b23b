"""Flows built as graphs, the older vocabulary: inside `with Flow("name") as flow:` a task call
records a node instead of running, and `flow.run()` submits the nodes to the flow's runner.

A thin layer: running a graph is submitting each node's task with its upstream nodes' futures
as arguments, in an order that respects the edges, inside an ordinary flow run. The runner
runs independent nodes in parallel as it runs any futures.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from taskloom._unmapped import unmapped
from taskloom.futures import TaskloomFuture, TaskloomFutureList
from taskloom.states import Cancelled, Completed, State, aggregate

if TYPE_CHECKING:
    from taskloom._tasks import Task
_NO_DEFAULT: Any = object()


class Node:
    """A task call recorded in a flow's graph; the key of its state in `state.result`.

    Passing a node to another task call inside the same `with Flow(...)` block makes an edge:
    the downstream run receives this one's result.
    """

    def __init__(
        self,
        task: Task[..., Any] | None,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        mapped: bool = False,
    ) -> None:
        self.task = task
        self.args = args
        self.kwargs = kwargs or {}
        self.mapped = mapped
        #: nodes this one runs after without taking their results (`upstream_tasks=`)
        self.upstream_tasks: list[Node] = []

    @property
    def name(self) -> str:
        assert self.task is not None
        return self.task.name

    def data_upstream(self) -> Iterator[Node]:
        """The nodes whose results are arguments of this one."""
        yield from _nodes_in((self.args, self.kwargs))

    def set_upstream(self, *nodes: Node) -> None:
        """Run this node after `nodes` (an order-only edge)."""
        for node in nodes:
            _check_node(node, "set_upstream")
            if node not in self.upstream_tasks:
                self.upstream_tasks.append(node)

    def set_downstream(self, *nodes: Node) -> None:
        """Run `nodes` after this one (an order-only edge)."""
        for node in nodes:
            _check_node(node, "set_downstream")
            node.set_upstream(self)

    def __repr__(self) -> str:
        kind = "mapped " if self.mapped else ""
        return f"<{kind}node of task {self.name!r}>"


class Parameter(Node):
    """An input of a graph flow: `Parameter("x", default=1)`, given by `flow.run(parameters=)`.

    Without a default, the parameter is required.
    """

    def __init__(self, name: str, default: Any = _NO_DEFAULT, required: bool | None = None):
        if not isinstance(name, str) or not name:
            raise TypeError(f"a Parameter needs a non-empty name; got {name!r}")
        super().__init__(None)
        self._name = name
        self.default = None if default is _NO_DEFAULT else default
        self.required = default is _NO_DEFAULT if required is None else bool(required)
        graph = building.get()
        if graph is not None:
            graph.add(self)

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<Parameter {self._name!r}>"


class FlowGraph:
    """The nodes a `with Flow(...)` block recorded, in the order they were recorded."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self._known: set[Node] = set()

    def add(self, node: Node) -> Node:
        if node not in self._known:
            self._known.add(node)
            self.nodes.append(node)
        for upstream in (*node.data_upstream(), *node.upstream_tasks):
            if upstream not in self._known:
                self.add(upstream)
        return node

    def terminal_nodes(self) -> list[Node]:
        """The task nodes nothing runs after: those a flow's state is judged by in Prefect 1."""
        upstream = {u for node in self.nodes for u in (*node.data_upstream(), *node.upstream_tasks)}
        return [n for n in self.nodes if n not in upstream and not isinstance(n, Parameter)]

    @property
    def parameters(self) -> dict[str, Parameter]:
        return {node.name: node for node in self.nodes if isinstance(node, Parameter)}

    def order(self) -> list[Node]:
        """The nodes, each after all it depends on; a `ValueError` names the nodes of a cycle."""
        for node in list(self.nodes):  # edges added later (`set_upstream`) may bring nodes
            self.add(node)
        nodes = self.nodes
        upstream = {node: {*node.data_upstream(), *node.upstream_tasks} for node in nodes}
        done: set[Node] = set()
        order: list[Node] = []
        # Kahn's algorithm, taking nodes in recording order; a mapped node that must wait for
        # an upstream result before it can be submitted goes as late as it can.
        remaining = list(nodes)
        while remaining:
            ready = [node for node in remaining if upstream[node] <= done]
            if not ready:
                cycle = _describe_cycle(remaining, upstream, nodes)
                raise ValueError(f"The flow's graph has a cycle: {cycle}")
            chosen = next((node for node in ready if not _waits_for_result(node)), ready[0])
            order.append(chosen)
            done.add(chosen)
            remaining.remove(chosen)
        return order

    def bind(self, parameters: Mapping[str, Any]) -> dict[Parameter, Any]:
        """Each parameter's value for a run; errors name what is unknown or missing."""
        known = self.parameters
        unknown = sorted(set(parameters) - set(known))
        if unknown:
            names = ", ".join(repr(n) for n in sorted(known)) or "none"
            raise ValueError(
                f"Unknown parameter(s) {', '.join(repr(n) for n in unknown)}; "
                f"the flow's parameters are: {names}"
            )
        missing = sorted(n for n, p in known.items() if p.required and n not in parameters)
        if missing:
            raise ValueError(f"Missing required parameter(s): {', '.join(map(repr, missing))}")
        return {p: parameters.get(n, p.default) for n, p in known.items()}

    def submit_all(self, values: dict[Parameter, Any]) -> dict[Node, Any]:
        """Inside a flow run: submit every node; each node's future (a list of them for a
        mapped node), each parameter's value."""
        out: dict[Node, Any] = {}
        out.update(values.items())
        for node in self.order():
            if isinstance(node, Parameter):
                continue
            task = node.task
            assert task is not None
            args = _substitute(node.args, out)
            kwargs = _substitute(node.kwargs, out)
            wait_for = [f for n in node.upstream_tasks for f in futures_in(out[n])] or None
            if not node.mapped:
                out[node] = task.submit(*args, wait_for=wait_for, **kwargs)
                continue
            unresolved = [v for v in (*args, *kwargs.values()) if isinstance(v, TaskloomFuture)]
            failed = [f for f in unresolved if not _completed(f)]
            if failed:
                # The list to map over never came: one run, which ends NotReady naming it.
                out[node] = [task.submit(wait_for=failed)]
                continue
            args = tuple(_value(v) for v in args)
            kwargs = {k: _value(v) for k, v in kwargs.items()}
            out[node] = task.map(*args, wait_for=wait_for, **kwargs)
        return out


def bring_results_home(submitted: dict[Node, Any]) -> None:
    """Inside the flow run: load every node's result into this process (what `state.result`
    holds after the run, when an engine that keeps results remote has let them go)."""
    futures = [f for node, value in submitted.items() for f in futures_in(value)]
    TaskloomFutureList(futures).result(raise_on_failure=False)


def states_of(graph: FlowGraph, submitted: dict[Node, Any]) -> dict[Node, State]:
    """Each node's final state: a parameter's value as `Completed`, a mapped node's runs
    aggregated in a `MappedState`, a node the run never got to `Cancelled`."""
    states: dict[Node, State] = {}
    for node in graph.nodes:
        if node not in submitted:
            states[node] = Cancelled(
                "Never ran: the flow run ended before this task call was submitted."
            )
            continue
        value = submitted[node]
        if isinstance(node, Parameter):
            states[node] = Completed(data=value)
        elif node.mapped:
            runs = [f.wait() for f in value]
            summary = aggregate(runs) if runs else Completed("No runs to map over.")
            data = [s.data if s.is_completed() else None for s in runs]
            states[node] = MappedState.of(summary, runs, data)
        else:
            states[node] = value.wait()
    return states


class MappedState(State):
    """The state of a mapped node: its runs' states aggregated; `map_states` holds them."""

    __slots__ = ("map_states",)

    map_states: list[State]

    @classmethod
    def of(cls, summary: State, runs: list[State], data: list[Any]) -> MappedState:
        state = cls(
            summary.type,
            name="Mapped" if summary.is_completed() else summary.name,
            message=summary.message,
            data=data if summary.is_completed() else summary.data,
        )
        state.map_states = runs
        return state


class TaskStates(dict[Node, State]):
    """`state.result` of a graph flow's run: each node's state, as in Prefect 1
    (`state.result[node]`; a task recorded once can stand for its node). Calling it,
    `state.result()`, gives the flow's result as on any state."""

    def __init__(self, states: dict[Node, State], owner: State) -> None:
        super().__init__(states)
        self._owner = owner

    def __call__(self, raise_on_failure: bool = True) -> Any:
        return State.result(self._owner, raise_on_failure)

    def __missing__(self, key: Any) -> State:
        # A task (not a node) recorded once stands for its node.
        matches = [node for node in self if node.task is key]
        if len(matches) == 1:
            return self[matches[0]]
        if matches:
            raise KeyError(
                f"Task {key.name!r} was called {len(matches)} times in the flow; "
                "index with the value one call returned"
            )
        raise KeyError(key)


class GraphRunState(State):
    """The final state of a graph flow's run, whose `result` also maps nodes to states."""

    __slots__ = ("_task_states",)

    _task_states: TaskStates

    @classmethod
    def of(cls, final: State, states: dict[Node, State]) -> GraphRunState:
        state = cls(final.type, name=final.name, message=final.message, data=final.data)
        state._task_states = TaskStates(states, state)
        return state

    @property
    def result(self) -> TaskStates:
        return self._task_states


#: The graph a `with Flow(...)` block in this context is recording, if any.
building: ContextVar[FlowGraph | None] = ContextVar("taskloom_building_graph", default=None)


def record(
    task: Task[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], mapped: bool
) -> Node:
    """Record a call of `task` in the graph being built (`upstream_tasks=` taken out)."""
    graph = building.get()
    assert graph is not None
    upstream = kwargs.pop("upstream_tasks", None) or ()
    node = Node(task, args, kwargs, mapped=mapped)
    node.set_upstream(*upstream)
    return graph.add(node)


def _check_node(node: Any, verb: str) -> None:
    if not isinstance(node, Node):
        raise TypeError(
            f"{verb}() takes what a task call returned inside `with Flow(...)`; got {node!r}"
        )


def _nodes_in(value: Any) -> Iterator[Node]:
    if isinstance(value, Node):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _nodes_in(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _nodes_in(item)
    elif isinstance(value, unmapped):
        yield from _nodes_in(value.value)


def _substitute(value: Any, out: dict[Node, Any]) -> Any:
    """`value` with each node replaced by its future (list of futures) or parameter value."""
    if isinstance(value, Node):
        return out[value]
    cls = type(value)
    if cls is dict:
        return {k: _substitute(v, out) for k, v in value.items()}
    if cls in (list, tuple, set, frozenset):
        return cls(_substitute(v, out) for v in value)
    if cls is unmapped:
        return unmapped(_substitute(value.value, out))
    return value


def _waits_for_result(node: Node) -> bool:
    """A mapped node over a single upstream run's result: submitted once that result is in."""
    return node.mapped and any(
        isinstance(value, Node) and not value.mapped and not isinstance(value, Parameter)
        for value in (*node.args, *node.kwargs.values())
    )


def futures_in(value: Any) -> list[TaskloomFuture]:
    """The futures a node's submission left: one, a mapped node's list, or none (a Parameter)."""
    if isinstance(value, TaskloomFuture):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, TaskloomFuture)]
    return []


def _completed(future: TaskloomFuture) -> bool:
    state = future.wait()
    return state is not None and state.is_completed()


def _value(value: Any) -> Any:
    return value.result() if isinstance(value, TaskloomFuture) else value


def _describe_cycle(
    remaining: Sequence[Node], upstream: dict[Node, set[Node]], nodes: Sequence[Node]
) -> str:
    """The nodes of one cycle among `remaining` (each of which waits for another of them), in
    the order they would have to run from the first recorded; a task called more than once is
    told by its call."""
    left = set(remaining)
    node = remaining[0]
    path: list[Node] = []
    while node not in path:
        path.append(node)
        node = next(u for u in upstream[node] if u in left)
    cycle = path[path.index(node) :]
    calls: dict[str, list[Node]] = {}
    for each in nodes:
        calls.setdefault(each.name, []).append(each)

    def label(each: Node) -> str:
        same = calls[each.name]
        if len(same) == 1:
            return repr(each.name)
        return f"{each.name!r} (call {same.index(each) + 1} of {len(same)})"

    in_order = cycle[::-1]
    start = min(range(len(in_order)), key=lambda i: nodes.index(in_order[i]))
    in_order = in_order[start:] + in_order[:start]  # from the first recorded
    return " -> ".join(label(n) for n in [*in_order, in_order[0]])
