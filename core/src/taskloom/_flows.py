"""Flows: functions whose calls are flow runs, each with its own task runner."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from taskloom._context import current_run
from taskloom._tasks import _check_name, _check_number, in_event_loop, is_async_function

if TYPE_CHECKING:
    from taskloom._toolkit.runner import TaskRunner

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
        fn: Callable[P, R],
        *,
        name: str | None = None,
        task_runner: TaskRunner | type[TaskRunner] | str | None = None,
        executor: TaskRunner | type[TaskRunner] | str | None = None,
        timeout_seconds: float | None = None,
    ) -> None:
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
        self.task_runner = task_runner if task_runner is not None else executor
        functools.update_wrapper(self, fn)

    @property
    def task_runner(self) -> TaskRunner:
        """The runner each run of this flow starts a copy of; settable with any accepted form."""
        return self._task_runner

    @task_runner.setter
    def task_runner(self, value: TaskRunner | type[TaskRunner] | str | None) -> None:
        from taskloom._registry import resolve_task_runner

        self._task_runner = resolve_task_runner(value)

    # The older vocabulary: an executor is a task runner.
    executor = task_runner

    def with_options(
        self,
        *,
        name: str | None = None,
        task_runner: TaskRunner | type[TaskRunner] | str | None = None,
        timeout_seconds: float | None = _UNSET,
    ) -> Flow[P, R]:
        """A copy of this flow with a different name, task runner or timeout."""
        return Flow(
            self.fn,
            name=name if name is not None else self.name,
            task_runner=task_runner if task_runner is not None else self.task_runner,
            timeout_seconds=(
                self.timeout_seconds if timeout_seconds is _UNSET else timeout_seconds
            ),
        )

    # Typed loosely: `return_state=True` changes the return type, and a ParamSpec signature
    # admits no extra keyword.
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return_state = bool(kwargs.pop("return_state", False))
        from taskloom._engine import run_flow_async, run_flow_sync

        if self.is_async:
            coro = _finish_async(run_flow_async(self, args, kwargs), return_state)
            if in_event_loop() or current_run.get() is None:
                return coro
            # An async subflow of a sync flow: there is no loop to await it on.
            from taskloom._async import run_coroutine

            return run_coroutine(coro)
        try:
            state = run_flow_sync(self, args, kwargs)
        except BaseException as exc:  # only what ends the process comes out: a signal's, say
            if _cancelled_by_signal(exc):
                raise _for_the_caller(exc) from None
            raise
        return state if return_state else state.result()

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r}, task_runner={self.task_runner!r})"


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
