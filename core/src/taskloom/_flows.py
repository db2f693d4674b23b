"""Flows: functions whose calls are flow runs, each with its own task runner."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable, Mapping
from contextvars import Token
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeAlias, TypeVar, overload

from taskloom._async import run_coroutine, running_backend
from taskloom._context import current_run
from taskloom._graph import (
    FlowGraph,
    GraphRunState,
    Node,
    bring_results_home,
    building,
    futures_in,
    states_of,
)
from taskloom._state_handlers import StateHandler, check_state_handlers
from taskloom._tasks import _check_name, _check_number, is_async_function
from taskloom.states import State

if TYPE_CHECKING:
    from taskloom._flow_run import FlowRun
    from taskloom._toolkit.runner import TaskRunner
    from taskloom.futures import TaskloomFuture

TerminalStateHandler: TypeAlias = Callable[[Any, State, set[State]], "State | None"]

P = ParamSpec("P")
R = TypeVar("R")

_UNSET: Any = object()


class Flow(Generic[P, R]):
    """A function whose calls are flow runs.

    Calling a flow runs it and returns the function's return value (or raises what failed it);
    `return_state=True` returns the final `State` instead. Calling an async flow returns a
    coroutine, except as the subflow of a sync flow, where it runs to completion.
    """

    def __init__(
        self,
        fn: Callable[P, R] | str,
        *,
        name: str | None = None,
        task_runner: TaskRunner | type[TaskRunner] | str | None = None,
        executor: TaskRunner | type[TaskRunner] | str | None = None,
        timeout_seconds: float | None = None,
        state_handlers: Iterable[StateHandler] | None = None,
        terminal_state_handler: TerminalStateHandler | None = None,
    ) -> None:
        #: the graph a `with` block records, for a flow made as `Flow("name")`; else None
        self.graph: FlowGraph | None = None
        if isinstance(fn, str):  # `Flow("name", ...)`: a graph, recorded in a `with` block
            if name is not None:
                raise TypeError("Flow(name, ...) takes the name once")
            name, self.graph = fn, FlowGraph()
            fn = _graph_function(self.graph)  # type: ignore[assignment]
        if not callable(fn):
            raise TypeError(f"@flow needs a function; got {fn!r}")
        if task_runner is not None and executor is not None:
            raise TypeError("Give task_runner= or its older alias executor=, not both.")
        self.fn = fn
        self.name = _check_name(name, fn) if name is not None else _default_name(fn)
        self.timeout_seconds = (
            None
            if timeout_seconds is None
            else _check_number("timeout_seconds", timeout_seconds, positive=True)
        )
        self.is_async = is_async_function(fn)
        #: `fn(flow, old_state, new_state)` as a run starts and ends; may return another state
        self.state_handlers = check_state_handlers(state_handlers)
        #: `fn(flow, state, reference_task_states)` once a run's state is final (its runner
        #: shut down); may return another state
        self.terminal_state_handler = terminal_state_handler
        self._origin: Flow[..., Any] | None = None
        #: the nodes' futures of the `run()` this copy of a graph flow makes (see `run`)
        self._submitted: dict[Node, Any] | None = None
        self._building: list[tuple[Token[Any], Token[Any]]] = []
        self._task_runner: TaskRunner | None = None
        self.speaks_of_executors = False
        if executor is not None:
            self.executor = executor
        elif task_runner is not None or self.graph is None:
            self.task_runner = task_runner
        # A graph flow given no runner finds its default when first asked: Prefect 1 scripts
        # set `flow.executor` after the `with` block, on installs that may lack the default.
        if self.graph is None:
            functools.update_wrapper(self, fn)

    @property
    def task_runner(self) -> TaskRunner:
        """The runner each run of this flow starts a copy of; settable with any accepted form."""
        if self._task_runner is None:
            from taskloom._registry import resolve_task_runner

            self._task_runner = resolve_task_runner(None)
        return self._task_runner

    @task_runner.setter
    def task_runner(self, value: TaskRunner | type[TaskRunner] | str | None) -> None:
        from taskloom._registry import resolve_task_runner

        self._task_runner = resolve_task_runner(value)
        self.speaks_of_executors = False

    @property
    def executor(self) -> TaskRunner:
        """The older name of `task_runner`: a flow given one by this name logs in that
        vocabulary ("Starting executor `DaskExecutor`...")."""
        return self.task_runner

    @executor.setter
    def executor(self, value: TaskRunner | type[TaskRunner] | str | None) -> None:
        self.task_runner = value
        self.speaks_of_executors = True

    # -- graph flows: `with Flow("name") as flow:` and `flow.run()` ----------------------------

    def __enter__(self) -> Flow[P, R]:
        if self.graph is None:
            raise TypeError(
                f"Flow {self.name!r} is a function; `with Flow(...)` takes a name: "
                'with Flow("my-flow") as flow: ...'
            )
        # Task calls inside the block record nodes, even where a flow run is current.
        self._building.append((building.set(self.graph), current_run.set(None)))
        return self

    def __exit__(self, *exc_info: object) -> None:
        graph_token, run_token = self._building.pop()
        current_run.reset(run_token)
        building.reset(graph_token)

    def run(
        self,
        parameters: Mapping[str, Any] | None = None,
        *,
        executor: TaskRunner | type[TaskRunner] | str | None = None,
        task_runner: TaskRunner | type[TaskRunner] | str | None = None,
        **kwargs: Any,
    ) -> State:
        """Run the flow's graph on its runner (or `executor=` for this run only) and return the
        final state; `state.result[node]` is the state of the task call that returned `node`.

        Parameters come as `parameters={...}` or as keyword arguments.
        """
        graph = self.graph
        if graph is None:
            raise TypeError(f"Flow {self.name!r} is a function: call it, my_flow(...), to run it")
        if executor is not None and task_runner is not None:
            raise TypeError("Give task_runner= or its older alias executor=, not both.")
        if not graph.nodes:
            raise ValueError(
                f"Flow {self.name!r} has no tasks: call tasks inside `with Flow(...) as flow:` "
                "to add them"
            )
        values = graph.bind({**(parameters or {}), **kwargs})
        graph.order()  # a cycle is an error before anything runs
        submitted: dict[Node, Any] = {}
        this_run = copy.copy(self)
        this_run._origin = self

        def run_graph() -> None:
            submitted.update(graph.submit_all(values))
            bring_results_home(submitted)

        this_run.fn = run_graph  # type: ignore[assignment]
        this_run._submitted = submitted
        if executor is not None:
            this_run.executor = executor
        elif task_runner is not None:
            this_run.task_runner = task_runner
        final: State = this_run(return_state=True)
        return GraphRunState.of(final, states_of(graph, submitted))

    @property
    def for_handlers(self) -> Flow[..., Any]:
        """The flow state handlers are given: the one `run()` was called on."""
        return self._origin or self

    def reference_futures(self, run: FlowRun) -> list[TaskloomFuture]:
        """The task runs a terminal state handler is told about (see `FlowRun`)."""
        submitted = self._submitted
        if self.graph is None or submitted is None:
            return list(run.futures)
        return [
            future
            for node in self.graph.terminal_nodes()
            if node in submitted
            for future in futures_in(submitted[node])
        ]

    def with_options(
        self,
        *,
        name: str | None = None,
        task_runner: TaskRunner | type[TaskRunner] | str | None = None,
        timeout_seconds: float | None = _UNSET,
    ) -> Flow[P, R]:
        """A copy of this flow with a different name, task runner or timeout."""
        copied = copy.copy(self)
        if name is not None:
            copied.name = _check_name(name, self.fn)
        if task_runner is not None:
            copied.task_runner = task_runner
        if timeout_seconds is not _UNSET:
            copied.timeout_seconds = (
                None
                if timeout_seconds is None
                else _check_number("timeout_seconds", timeout_seconds, positive=True)
            )
        copied._building = []
        return copied

    # Typed loosely: `return_state=True` changes the return type, and a ParamSpec signature
    # admits no extra keyword.
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return_state = bool(kwargs.pop("return_state", False))
        from taskloom._engine import run_flow_async, run_flow_sync

        if self.is_async:
            coro = _finish_async(run_flow_async(self, args, kwargs), return_state)
            parent = current_run.get()
            if running_backend() is not None or parent is None:
                return coro
            # An async subflow of a sync flow: there is no loop to await it on.
            return run_coroutine(coro, parent.flow_run.async_backend)
        try:
            state = run_flow_sync(self, args, kwargs)
        except BaseException as exc:  # only what ends the process comes out: a signal's, say
            if _cancelled_by_signal(exc):
                raise _for_the_caller(exc) from None
            raise
        return state if return_state else state.result()

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r}, task_runner={self.task_runner!r})"

    def __reduce__(self) -> Any:
        # Tokens of a `with` block in progress do not pickle, nor need to.
        state = dict(self.__dict__)
        state["_building"] = []
        return (_new_flow, (type(self),), state)


async def _finish_async(run: Any, return_state: bool) -> Any:
    try:
        state = await run
    except BaseException as exc:
        if _cancelled_by_signal(exc):
            raise _for_the_caller(exc) from None
        raise
    return state if return_state else state.result()


def _cancelled_by_signal(exc: BaseException) -> bool:
    """Whether `exc` is a signal that cancelled a top-level flow run."""
    from taskloom._signals import is_flow_interrupt

    return current_run.get() is None and is_flow_interrupt(exc)


def _for_the_caller(exc: BaseException) -> BaseException:
    """What a flow cancelled by a signal raises to its caller, without the engine's frames (the
    flow has logged how it ended): for SIGINT a plain `KeyboardInterrupt`, which Python, left
    uncaught, ends the process with as if by SIGINT (exit status 130); for SIGTERM the
    `FlowTerminated` (a `SystemExit` of status 143)."""
    if isinstance(exc, KeyboardInterrupt):
        return KeyboardInterrupt(str(exc))
    return exc.with_traceback(None)


def _new_flow(cls: type[Flow[..., Any]]) -> Flow[..., Any]:
    return cls.__new__(cls)


def _graph_function(graph: FlowGraph) -> Callable[..., None]:
    """What calling a graph flow like a function runs: its nodes, with its parameters."""

    def run_graph(**parameters: Any) -> None:
        graph.submit_all(graph.bind(parameters))

    return run_graph


def _default_name(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__name__", type(fn).__name__)).replace("_", "-")


@overload
def flow(fn: Callable[P, R], /) -> Flow[P, R]: ...


@overload
def flow(
    *,
    name: str | None = None,
    task_runner: TaskRunner | type[TaskRunner] | str | None = None,
    executor: TaskRunner | type[TaskRunner] | str | None = None,
    timeout_seconds: float | None = None,
) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(fn: Callable[P, R] | None = None, /, **options: Any) -> Any:
    """Make a function a flow: `@flow` or `@flow(name=..., task_runner=..., ...)`."""
    if fn is None:
        return lambda f: Flow(f, **options)
    return Flow(fn, **options)
