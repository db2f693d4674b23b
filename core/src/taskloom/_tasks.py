"""Tasks: functions whose calls inside a flow run become task runs on the flow's runner."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, Generic, Literal, ParamSpec, TypeVar, overload

from taskloom._async import running_backend
from taskloom._context import current_run
from taskloom._graph import building, record
from taskloom._names import task_key
from taskloom._state_handlers import StateHandler, check_state_handlers
from taskloom._unmapped import unmapped
from taskloom.exceptions import MissingContextError
from taskloom.futures import await_result

if TYPE_CHECKING:
    from taskloom._submitter import Submitter
    from taskloom.futures import TaskloomFuture, TaskloomFutureList

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

_CO_COROUTINE = 0x80


def is_async_function(fn: Callable[..., Any]) -> bool:
    """Whether `fn` is an `async def` function (without importing `inspect` or `asyncio`)."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    return bool(code is not None and code.co_flags & _CO_COROUTINE)


class Task(Generic[P, R]):
    """A function whose calls inside a flow run are task runs, submitted to the flow's runner.

    Outside a flow, calling the task calls the function.
    """

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        tags: Iterable[str] | None = None,
        retries: int = 0,
        retry_delay_seconds: float = 0,
        timeout_seconds: float | None = None,
        state_handlers: Iterable[StateHandler] | None = None,
        task_runner: Any = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"@task needs a function; got {fn!r}")
        self.fn = fn
        self.name = _check_name(name, fn)
        self.tags = _check_tags(tags)
        self.retries = _check_number("retries", retries, integer=True)
        self.retry_delay_seconds = _check_number("retry_delay_seconds", retry_delay_seconds)
        self.timeout_seconds = (
            None
            if timeout_seconds is None
            else _check_number("timeout_seconds", timeout_seconds, positive=True)
        )
        #: `fn(task, old_state, new_state)` called as the run starts and ends (see `TaskCall`)
        self.state_handlers = check_state_handlers(state_handlers)
        #: where this task's runs go instead of the flow's runner (a runner, class, name or
        #: address, as `@flow(task_runner=...)` takes); None for the flow's own
        self.task_runner = _check_task_runner(task_runner)
        self.is_async = is_async_function(fn)
        self.key = task_key(getattr(fn, "__module__", "") or "", fn.__qualname__)
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        run = current_run.get()
        if run is None:
            if building.get() is not None:  # inside `with Flow(...)`: a node of its graph
                return record(self, args, kwargs, mapped=False)  # type: ignore[return-value]
            return self.fn(*args, **kwargs)
        future = run.flow_run.lane_for(self.task_runner).submit(self, args, kwargs, None)
        if self.is_async and running_backend() is not None:
            return await_result(future)  # type: ignore[return-value]
        return future.result()  # type: ignore[no-any-return]

    # The futures of an async task hold what its coroutine returns, not the coroutine.
    @overload
    def submit(
        self: Task[P, Coroutine[Any, Any, T]],
        *args: Any,
        wait_for: Iterable[Any] | None = None,
        **kwargs: Any,
    ) -> TaskloomFuture[T]: ...

    @overload
    def submit(
        self: Task[P, T], *args: Any, wait_for: Iterable[Any] | None = None, **kwargs: Any
    ) -> TaskloomFuture[T]: ...

    def submit(
        self, *args: Any, wait_for: Iterable[Any] | None = None, **kwargs: Any
    ) -> TaskloomFuture[Any]:
        """Submit a run of this task to the flow's runner and return its future at once."""
        return (
            _flow_run("submit", self)
            .lane_for(self.task_runner)
            .submit(self, args, kwargs, wait_for)
        )

    @overload
    def map(
        self: Task[P, Coroutine[Any, Any, T]],
        *args: Any,
        wait_for: Iterable[Any] | None = None,
        batch_size: int | Literal["auto"] | None = None,
        **kwargs: Any,
    ) -> TaskloomFutureList[T]: ...

    @overload
    def map(
        self: Task[P, T],
        *args: Any,
        wait_for: Iterable[Any] | None = None,
        batch_size: int | Literal["auto"] | None = None,
        **kwargs: Any,
    ) -> TaskloomFutureList[T]: ...

    def map(
        self,
        *args: Any,
        wait_for: Iterable[Any] | None = None,
        batch_size: int | Literal["auto"] | None = None,
        **kwargs: Any,
    ) -> TaskloomFutureList[Any]:
        """Submit one run per element of the iterable arguments (zipped); return their futures.

        Arguments wrapped in `unmapped(...)`, strings, bytes and other non-iterables are passed
        whole to every run. With `batch_size=k`, runners whose engine pays a cost per task
        (processes, Dask, Ray) send `k` runs per engine task; each run keeps its own state,
        retries, timeout and log lines. `"auto"` picks `k` for the map's length and the
        runner's parallelism (`taskloom.task_runners.auto_batch_size`).
        """
        if current_run.get() is None and building.get() is not None:
            return record(self, args, kwargs, mapped=True)  # type: ignore[return-value]
        flow_run = _flow_run("map", self).lane_for(self.task_runner)
        runs = _map_arguments(self.name, args, kwargs)
        return flow_run.map(self, runs, wait_for, batch_size)

    def with_options(self, **options: Any) -> Task[P, R]:
        """A copy of this task with some of its options (`name`, `tags`, ...) changed."""
        current = {
            "name": self.name,
            "tags": self.tags,
            "retries": self.retries,
            "retry_delay_seconds": self.retry_delay_seconds,
            "timeout_seconds": self.timeout_seconds,
            "state_handlers": self.state_handlers,
            "task_runner": self.task_runner,
        }
        unknown = set(options) - set(current)
        if unknown:
            raise TypeError(f"Unknown task option(s): {', '.join(sorted(unknown))}")
        return Task(self.fn, **{**current, **options})

    def __reduce__(self) -> tuple[Any, ...]:
        # A module-level task pickles by reference; one from `__main__` or a local scope by
        # value (cloudpickle then carries its function).
        module = sys.modules.get(self.__module__)
        if (
            module is not None
            and self.__module__ != "__main__"
            and getattr(module, self.fn.__qualname__, None) is self
        ):
            return (_load_task, (self.__module__, self.fn.__qualname__))
        return (
            _rebuild_task,
            (
                self.fn,
                self.name,
                self.tags,
                self.retries,
                self.retry_delay_seconds,
                self.timeout_seconds,
                self.state_handlers,
                self.task_runner,
            ),
        )

    def __repr__(self) -> str:
        return f"Task(name={self.name!r})"


def _load_task(module: str, qualname: str) -> Task[..., Any]:
    import importlib

    return getattr(importlib.import_module(module), qualname)  # type: ignore[no-any-return]


def _rebuild_task(
    fn: Callable[..., Any],
    name: str,
    tags: frozenset[str],
    retries: int,
    retry_delay_seconds: float,
    timeout_seconds: float | None,
    state_handlers: tuple[StateHandler, ...] = (),
    task_runner: Any = None,
) -> Task[..., Any]:
    return Task(
        fn,
        task_runner=task_runner,
        name=name,
        tags=tags,
        retries=retries,
        retry_delay_seconds=retry_delay_seconds,
        timeout_seconds=timeout_seconds,
        state_handlers=state_handlers,
    )


def _check_task_runner(spec: Any) -> Any:
    """A task's `task_runner=`: None, or what `@flow(task_runner=...)` takes (resolved when a
    flow run first submits the task, so a runner package may be installed later)."""
    # By shape: runner classes live in a layer beside this one (`_toolkit`).
    if spec is None or isinstance(spec, str) or callable(getattr(spec, "submit", None)):
        return spec
    raise TypeError(
        "task_runner must be a TaskRunner instance, a TaskRunner subclass, a runner name or an "
        f"address; got {spec!r} of type {type(spec).__name__}"
    )


def _flow_run(verb: str, task: Task[..., Any]) -> Submitter:
    run = current_run.get()
    if run is None:
        raise MissingContextError(
            f"Task {task.name!r}.{verb}() was called outside of a flow run; "
            f"{verb}() works only inside a flow (call the task directly to run its function)."
        )
    return run.flow_run


def _is_mapped(value: Any) -> bool:
    return hasattr(value, "__iter__") and not isinstance(value, (str, bytes, bytearray, unmapped))


def _map_arguments(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    mapped = {i: list(a) for i, a in enumerate(args) if _is_mapped(a)}
    mapped_kw = {k: list(v) for k, v in kwargs.items() if _is_mapped(v)}
    lengths = {len(v) for v in (*mapped.values(), *mapped_kw.values())}
    if not lengths:
        raise TypeError(f"Task {name!r}.map() needs at least one iterable argument to map over")
    if len(lengths) > 1:
        raise ValueError(
            f"Task {name!r}.map() got iterables of different lengths: {sorted(lengths)}"
        )
    (count,) = lengths
    static = [a.value if isinstance(a, unmapped) else a for a in args]
    static_kw = {k: v.value if isinstance(v, unmapped) else v for k, v in kwargs.items()}
    runs = []
    for n in range(count):
        run_args = tuple(mapped[i][n] if i in mapped else a for i, a in enumerate(static))
        run_kwargs = {k: mapped_kw[k][n] if k in mapped_kw else v for k, v in static_kw.items()}
        runs.append((run_args, run_kwargs))
    return runs


def _check_name(name: str | None, fn: Callable[..., Any]) -> str:
    if name is None:
        return str(getattr(fn, "__name__", type(fn).__name__))
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string; got {name!r}")
    return name


def _check_tags(tags: Iterable[str] | None) -> frozenset[str]:
    if tags is None:
        return frozenset()
    if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
        raise TypeError(f"tags must be an iterable of strings; got {tags!r}")
    return frozenset(tags)


def _check_number(option: str, value: Any, *, integer: bool = False, positive: bool = False) -> Any:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an integer" if integer else "a number"
        raise TypeError(f"{option} must be {kind}; got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{option} must be {'positive' if positive else 'zero or more'}")
    return value


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(
    *,
    name: str | None = None,
    tags: Iterable[str] | None = None,
    retries: int = 0,
    retry_delay_seconds: float = 0,
    timeout_seconds: float | None = None,
    state_handlers: Iterable[StateHandler] | None = None,
    task_runner: Any = None,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(fn: Callable[P, R] | None = None, /, **options: Any) -> Any:
    """Make a function a task: `@task` or `@task(name=..., tags=..., retries=..., ...)`."""
    if fn is None:
        return lambda f: Task(f, **options)
    return Task(fn, **options)
