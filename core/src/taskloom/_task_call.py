"""One task run as the engine hands it to a runner: what to call, and how to end in a state."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from taskloom import _signals
from taskloom._async import (
    CallTimeout,
    call_in_thread,
    is_async_cancellation,
    run_coroutine,
    with_time_limit,
)
from taskloom._context import current_run
from taskloom._logging import RunLogger, ensure_console_logging, log_info, logger
from taskloom._state_handlers import call_state_handlers
from taskloom.exceptions import TaskRunCancelled, TaskRunFailure
from taskloom.states import Cancelled, Crashed, Failed, Pending, Running, State, StateType

if TYPE_CHECKING:
    from typing import Self

    from taskloom._submitter import Submitter
    from taskloom._tasks import Task

__all__ = ["CallFields", "TaskCall", "Upstream"]

#: `TaskCall.fields()`: run name, arguments, keyword arguments, upstream run names, how many of
#: those are data, map index
CallFields: TypeAlias = tuple[
    str, tuple[Any, ...], dict[str, Any], tuple[str, ...], int, "int | None"
]


class Upstream:
    """Stands in an argument for the value of the upstream run at `index`."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __reduce__(self) -> tuple[Any, ...]:
        return (Upstream, (self.index,))


class TaskCall:
    """A task run ready to run: the task, its arguments and the run it belongs to.

    Runners call `run(states)` (or `await run_async(states)`) where they execute tasks; it
    applies the `NotReady` rule, retries and the timeout, logs the outcome and returns the final
    state, never raising for a failure of the task. It pickles (with cloudpickle where the task
    is defined in `__main__` or a local scope) so it can run in another process; there, tasks it
    submits go to the same runner.
    """

    __slots__ = (
        "args",
        "flow_run",
        "kwargs",
        "map_index",
        "n_data",
        "started",
        "task",
        "task_run_name",
        "upstream_names",
    )

    #: Whether `finish` logs the final state: a runner whose flow process logs it when the
    #: future learns it (Ray, whose log pipeline costs more than a trivial run) turns it off.
    logs_final_state: ClassVar[bool] = True

    def __init__(
        self,
        task: Task[..., Any],
        task_run_name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        upstream_names: tuple[str, ...],
        n_data: int,
        flow_run: Submitter,
        map_index: int | None = None,
    ) -> None:
        self.task = task
        self.task_run_name = task_run_name
        self.args = args
        self.kwargs = kwargs
        #: names of the runs this one waits for: first those whose values are arguments
        #: (`n_data` of them, at `Upstream(i)` placeholders), then those of `wait_for`
        self.upstream_names = upstream_names
        self.n_data = n_data
        self.flow_run = flow_run
        self.started = False
        #: the position of this run in its map, None for a run of no map
        self.map_index = map_index

    @property
    def is_async(self) -> bool:
        return self.task.is_async

    @property
    def tags(self) -> frozenset[str]:
        return self.task.tags

    # -- running --------------------------------------------------------------------------------

    def run(self, upstream: Sequence[State] = ()) -> State:
        """Run the task after its upstream runs ended in `upstream` (in `upstream_names` order)."""
        if upstream:
            for index, state in enumerate(upstream):
                if not state.is_completed():
                    return self.finish(self.not_ready(self.upstream_names[index]))
            return self.run_values([state.data for state in upstream[: self.n_data]])
        return self.run_values(())

    async def run_async(self, upstream: Sequence[State] = ()) -> State:
        """`run` for an event loop: an async task is awaited here instead of blocking a thread.

        The loop's cancellation (the runner cancelling the run) reaches the task, whose
        `finally` blocks run, and then propagates: the caller ends the run with
        `cancelled(started=True)` and lets the cancellation go on.
        """
        for index, state in enumerate(upstream):
            if not state.is_completed():
                return self.finish(self.not_ready(self.upstream_names[index]))
        args, kwargs = self._arguments([state.data for state in upstream[: self.n_data]])
        if self.task.state_handlers and not (begun := self._begin()).is_running():
            return self.finish(begun)
        token = current_run.set(self)
        try:
            state = await self._attempts_async(args, kwargs)
        except TaskRunCancelled:  # stopped between attempts
            state = self.cancelled_state(started=True)
        finally:
            current_run.reset(token)
        return self.finish(state)

    def run_values(self, values: Sequence[Any]) -> State:
        """Run the task with `values` for its data upstream runs, all of which completed."""
        args, kwargs = self._arguments(values)
        if self.task.state_handlers and not (begun := self._begin()).is_running():
            return self.finish(begun)
        token = current_run.set(self)
        try:
            state = self._attempts(args, kwargs)
        except TaskRunCancelled:  # stopped between attempts (in a retry's delay, say)
            state = self.cancelled_state(started=True)
        finally:
            current_run.reset(token)
        return self.finish(state)

    def run_for_engine(self, *values: Any) -> Any:
        """Run with upstream `values` and return the bare result, raising `TaskRunFailure` else.

        For engines that pass results between workers themselves and skip the dependents of a
        run that raised (Dask, Ray): a completed result stays in the engine, and a dependent
        receives the upstream's `TaskRunFailure`, which `state_from_error` reads as `NotReady`.
        """
        state = self.run_values(values[: self.n_data])
        if state.is_completed():
            return state.data
        raise TaskRunFailure(self.task_run_name, state)

    def finish(self, state: State) -> State:
        """End the run in `state`: the task's state handlers see the change first and may put
        another state in its place; then the final state is logged (`log_final`) and the
        run's arguments released. Returns the final state."""
        if self.task.state_handlers:
            old = Running() if self.started else Pending()
            state = call_state_handlers(
                self.task.state_handlers, self.task, old, state, self._label
            )
        if self.logs_final_state:
            self.log_final(state)
        self.args = ()
        self.kwargs = {}
        return state

    def log_final(self, state: State) -> State:
        """Log how the run ended, and return `state`.

        For a runner whose workers leave that line to the flow's process (Ray): the flow calls
        this for a state made where the run ran, whose handlers have seen it already. A
        cancelled run is logged at DEBUG only: a cancelled flow run would otherwise print a
        line for every run it never started.
        """
        if state.type is _CANCELLED or self.flow_run.summarizes:
            logger.debug("Task run %r finished in state %r", self.task_run_name, state)
        else:
            log_info("Task run %r finished in state %r", self.task_run_name, state)
        return state

    # -- rebuilding the call elsewhere ---------------------------------------------------------

    def fields(self) -> CallFields:
        """What rebuilds this call in another process besides its task and its flow run (which
        travel once for many calls): plain data when the arguments are."""
        return (
            self.task_run_name,
            self.args,
            self.kwargs,
            self.upstream_names,
            self.n_data,
            self.map_index,
        )

    @classmethod
    def from_fields(cls, task: Task[..., Any], fields: CallFields, flow_run: Submitter) -> Self:
        """The call `fields()` described, with its task and flow run."""
        name, args, kwargs, upstream_names, n_data, map_index = fields
        return cls(task, name, args, kwargs, upstream_names, n_data, flow_run, map_index)

    # -- states for runners ---------------------------------------------------------------------

    def not_ready(self, upstream_name: str) -> State:
        """The state of this run when the upstream run `upstream_name` did not complete."""
        return Pending(
            f"Upstream task run {upstream_name!r} did not reach a 'COMPLETED' state.",
            name="NotReady",
        )

    def cancelled(self, started: bool) -> State:
        """This run's final state when its flow run was cancelled: before the run `started`
        (it never will), or while it ran."""
        return self.finish(self.cancelled_state(started))

    def cancelled_state(self, started: bool | None) -> State:
        """`cancelled`'s state without ending the run, for a runner that ends it later;
        `started` None where the engine does not say whether the run had started."""
        when = {True: " while it ran", False: " before it started", None: ""}[started]
        return Cancelled(f"Task run was cancelled{when}: its flow run was cancelled.")

    def state_from_error(self, exc: BaseException) -> State:
        """This run's state from the error its engine reported for it.

        A `TaskRunFailure` of this run is its own state; one of another run means an upstream
        failed and this one never ran; anything else (a dead worker, a cancelled key) crashed it.
        """
        if isinstance(exc, TaskRunFailure):
            if exc.task_run_name == self.task_run_name:
                return exc.state
            return self.not_ready(exc.task_run_name)
        return Crashed(f"Task run {self.task_run_name!r} crashed: {_describe(exc)}", data=exc)

    def run_logger(self) -> RunLogger:
        """The logger of this task run (what `get_run_logger()` returns inside it)."""
        return RunLogger(
            logger,
            {
                "run_label": f"Task run {self.task_run_name!r}",
                "task_run_name": self.task_run_name,
                "flow_run_name": self.flow_run.name,
            },
        )

    # -- internals ------------------------------------------------------------------------------

    @property
    def _label(self) -> str:
        return f"task run {self.task_run_name!r}"

    def _begin(self) -> State:
        """Running, or what the task's state handlers put in its place as the run starts."""
        return call_state_handlers(
            self.task.state_handlers, self.task, Pending(), Running(), self._label
        )

    def _arguments(self, values: Sequence[Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        self.started = True
        ensure_console_logging()
        if not self.n_data:
            return self.args, self.kwargs
        return _fill(self.args, values), _fill(self.kwargs, values)

    def _attempts(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> State:
        task = self.task
        fn = task.fn
        timeout = task.timeout_seconds
        attempt = 0
        while True:
            try:
                if task.is_async:
                    # A time limit is a cancel scope around the coroutine: no thread of its own.
                    awaitable = fn(*args, **kwargs)
                    if timeout is not None:
                        awaitable = with_time_limit(awaitable, timeout)
                    result = run_coroutine(awaitable, self.flow_run.async_backend)
                elif timeout is not None:
                    result = call_in_thread(lambda: fn(*args, **kwargs), timeout)
                else:
                    result = fn(*args, **kwargs)
                return State.completed(result)
            except Exception as exc:
                state = self._failed(exc)
            except BaseException as exc:
                return self._crashed(exc)
            if attempt >= task.retries:
                return state
            attempt += 1
            self._log_retry(state, attempt)
            if task.retry_delay_seconds:
                time.sleep(task.retry_delay_seconds)

    async def _attempts_async(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> State:
        task = self.task
        attempt = 0
        while True:
            try:
                if task.is_async:
                    if task.timeout_seconds is None:  # one coroutine frame fewer
                        result = await task.fn(*args, **kwargs)
                    else:
                        result = await with_time_limit(
                            task.fn(*args, **kwargs), task.timeout_seconds
                        )
                else:
                    result = task.fn(*args, **kwargs)
                return State.completed(result)
            except Exception as exc:
                state = self._failed(exc)
            except BaseException as exc:
                if is_async_cancellation(exc):
                    raise  # the loop's own: its cancel scope must see it (see `run_async`)
                return self._crashed(exc)
            if attempt >= task.retries:
                return state
            attempt += 1
            self._log_retry(state, attempt)
            if task.retry_delay_seconds:
                import anyio

                await anyio.sleep(task.retry_delay_seconds)

    def _failed(self, exc: BaseException) -> State:
        if isinstance(exc, CallTimeout):
            return Failed(
                f"Task run exceeded timeout of {self.task.timeout_seconds} second(s)",
                name="TimedOut",
                data=exc,
            )
        logger.error("Task run %r encountered an exception:", self.task_run_name, exc_info=exc)
        return Failed(f"Task run encountered an exception: {_describe(exc)}", data=exc)

    def _crashed(self, exc: BaseException) -> State:
        if _signals.is_flow_interrupt(exc):
            # A Ctrl-C or SIGTERM meant for the whole flow, raised in this run's thread (the
            # flow's own, on an inline runner): record the cancellation, then let it stop the flow.
            self.finish(self.cancelled_state(started=True))
            raise exc
        if isinstance(exc, TaskRunCancelled) or is_async_cancellation(exc):
            return self.cancelled_state(started=True)
        return Crashed(f"Task run interrupted by {_describe(exc)}", data=exc)

    def _log_retry(self, state: State, attempt: int) -> None:
        task = self.task
        logger.info(
            "Task run %r ended in state %r; retry %d of %d in %s second(s)...",
            self.task_run_name,
            state,
            attempt,
            task.retries,
            task.retry_delay_seconds,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        flow_run = self.flow_run.remote()
        return (
            TaskCall,
            (
                self.task,
                self.task_run_name,
                self.args,
                self.kwargs,
                self.upstream_names,
                self.n_data,
                flow_run,
                self.map_index,
            ),
        )

    def __repr__(self) -> str:
        return f"TaskCall({self.task_run_name!r})"


_CANCELLED = StateType.CANCELLED


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _fill(value: Any, values: Sequence[Any], placeholder: type = Upstream) -> Any:
    """`value` with every `placeholder` (`Upstream` unless said), also inside lists, tuples,
    sets and dicts, replaced by the upstream value it stands for."""
    cls = type(value)
    if cls is placeholder:
        return values[value.index]
    if cls is tuple or cls is list or cls is set or cls is frozenset:
        return cls(_fill(item, values, placeholder) for item in value)
    if cls is dict:
        return {key: _fill(item, values, placeholder) for key, item in value.items()}
    return value
