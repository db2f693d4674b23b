"""The flow engine: one flow run, from starting its runner to its final state."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from taskloom import _signals
from taskloom._async import CallTimeout, call_in_thread
from taskloom._context import current_run
from taskloom._logging import RunLogger, ensure_console_logging, log_info, logger
from taskloom._names import flow_run_name
from taskloom._plugins import get_plugin_manager
from taskloom._task_call import TaskCall, Upstream
from taskloom.futures import FinishedFuture, TaskloomFuture
from taskloom.states import Cancelled, Completed, Crashed, Failed, State

if TYPE_CHECKING:
    import pluggy

    from taskloom._flows import Flow
    from taskloom._tasks import Task
    from taskloom.task_runners import TaskRunner

_CONTAINERS = (list, tuple, set, frozenset, dict)


@dataclass(frozen=True)
class FlowRunInfo:
    """What hooks are told about a flow run."""

    name: str
    flow_name: str
    task_runner: TaskRunner
    parent: FlowRunInfo | None = field(default=None, repr=False)


class Submitter:
    """Turns task calls into task runs on one runner: names them, finds their upstream futures."""

    def __init__(self, name: str, flow_name: str, runner: TaskRunner) -> None:
        self.name = name
        self.flow_name = flow_name
        self.runner = runner
        #: what a task run's code reaches as `current_run.get().flow_run`
        self.flow_run = self
        self._counters: dict[str, Iterator[int]] = {}
        self._notify_submitted: Callable[[TaskCall], None] | None = None
        self._submit: Callable[[TaskCall, Sequence[TaskloomFuture]], TaskloomFuture] = runner.submit

    def submit(
        self,
        task: Task[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        wait_for: Iterable[Any] | None,
    ) -> TaskloomFuture:
        name = self._name_run(task)
        upstream: list[TaskloomFuture] = []
        blocked: list[str] = []
        if args and _may_hold_futures(args):
            args = self._extract(args, upstream, blocked)
        if kwargs and _may_hold_futures(kwargs.values()):
            kwargs = self._extract(kwargs, upstream, blocked)
        n_data = len(upstream)
        if wait_for is not None:
            for item in wait_for:
                if not isinstance(item, TaskloomFuture):
                    raise TypeError(f"wait_for takes futures; got {item!r}")
                if item not in upstream:
                    self._extract(item, upstream, blocked)
        names = tuple([f.task_run_name for f in upstream]) if upstream else ()
        call = TaskCall(task, name, args, kwargs, names, n_data, self)
        if self._notify_submitted is not None:
            self._notify_submitted(call)
        log_info("Submitting task run %r to task runner...", name)
        if blocked:
            future: TaskloomFuture = FinishedFuture(call, call.finish(call.not_ready(blocked[0])))
        else:
            future = self._submit(call, upstream)
        future.owner = self
        self._track(future)
        return future

    def _name_run(self, task: Task[..., Any]) -> str:
        counter = self._counters.get(task.key)
        if counter is None:
            counter = self._counters.setdefault(task.key, itertools.count())
        return f"{task.name}-{task.key}-{next(counter)}"

    def _extract(self, value: Any, upstream: list[TaskloomFuture], blocked: list[str]) -> Any:
        """`value` with this runner's futures replaced by placeholders (collected in `upstream`)
        and other runners' futures by their results."""
        if isinstance(value, TaskloomFuture):
            if value.owner is None or value.owner.runner is self.runner:
                for index, seen in enumerate(upstream):
                    if seen is value:
                        return Upstream(index)
                upstream.append(value)
                return Upstream(len(upstream) - 1)
            # A future of another runner (a parent flow's, say) cannot travel to this one.
            state = value.wait()
            assert state is not None
            if not state.is_completed():
                blocked.append(value.task_run_name)
                return None
            return state.data
        cls = type(value)
        if cls is dict:
            return {k: self._extract(v, upstream, blocked) for k, v in value.items()}
        if cls in _CONTAINERS:
            return cls(self._extract(v, upstream, blocked) for v in value)
        return value

    def _track(self, future: TaskloomFuture) -> None:
        pass

    def remote(self) -> RemoteFlowRun:
        """The handle a task call carries into another process."""
        return RemoteFlowRun(self.name, self.flow_name, self.runner)

    def run_logger(self) -> RunLogger:
        return RunLogger(
            logger, {"run_label": f"Flow run {self.name!r}", "flow_run_name": self.name}
        )


_PLAIN = frozenset({int, float, str, bytes, bool, type(None)})


def _may_hold_futures(values: Iterable[Any]) -> bool:
    for value in values:
        if type(value) in _PLAIN:
            continue
        if isinstance(value, TaskloomFuture) or type(value) in _CONTAINERS:
            return True
    return False


class RemoteFlowRun(Submitter):
    """A flow run as seen from a task running in another process: it can submit to the runner.

    Run numbers there are counted per task call, so they carry the parent run's name to stay
    unique: `child-1a2b3c4d-parent-5e6f7a8b-0.0`.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (RemoteFlowRun, (self.name, self.flow_name, self.runner))

    def _name_run(self, task: Task[..., Any]) -> str:
        caller = current_run.get()
        prefix = getattr(caller, "task_run_name", None)
        if prefix is None:  # not inside a task run: counters of this handle alone
            return super()._name_run(task)
        key = f"{task.key}-{prefix}"
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters.setdefault(key, itertools.count())
        return f"{task.name}-{task.key}-{prefix}.{next(counter)}"

    def remote(self) -> RemoteFlowRun:
        return self


class FlowRun(Submitter):
    """One run of a flow in this process: its runner, its task runs and subflow runs."""

    info: FlowRunInfo

    def __init__(
        self,
        flow: Flow[..., Any],
        runner: TaskRunner,
        parent: FlowRun | None,
        plugins: pluggy.PluginManager,
    ) -> None:
        super().__init__(flow_run_name(), flow.name, runner)
        self.flow = flow
        self.parent = parent
        self.info = FlowRunInfo(self.name, flow.name, runner, parent.info if parent else None)
        self.futures: list[TaskloomFuture] = []
        self.subflow_states: list[State] = []
        self.hook = plugins.hook
        self._wrapped = _runner_hooks_wrapped(plugins)
        self._waiter: Callable[[TaskloomFuture, float | None], State | None] | None = None
        if self._wrapped:
            self._submit = self._hook_submit
            self._waiter = self._hook_wait
        self._notify_finished = bool(self.hook.taskloom_task_run_finished.get_hookimpls())
        if self._notify_finished:
            self._waiter = self._hook_wait
        if self.hook.taskloom_task_run_submitted.get_hookimpls():
            self._notify_submitted = self._hook_submitted

    # -- the runner, through the hooks when a plugin wraps them -------------------------------

    def start_runner(self) -> None:
        if self._wrapped:
            self.hook.taskloom_runner_start(runner=self.runner)
        else:
            self.runner.start()

    def shutdown_runner(self) -> None:
        if self._wrapped:
            self.hook.taskloom_runner_shutdown(runner=self.runner)
        else:
            self.runner.shutdown()

    def _hook_submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        future: TaskloomFuture = self.hook.taskloom_runner_submit(
            runner=self.runner, call=call, upstream=upstream
        )
        return future

    def _hook_wait(self, future: TaskloomFuture, timeout: float | None) -> State | None:
        if self._wrapped:
            state: State | None = self.hook.taskloom_runner_wait(
                runner=self.runner, future=future, timeout=timeout
            )
        else:
            state = future._wait(timeout)
        if state is not None and future._final is None:
            self.hook.taskloom_task_run_finished(flow_run=self.info, call=future.call, state=state)
        return state

    def _hook_submitted(self, call: TaskCall) -> None:
        self.hook.taskloom_task_run_submitted(flow_run=self.info, call=call)

    def _track(self, future: TaskloomFuture) -> None:
        future._waiter = self._waiter
        self.futures.append(future)
        final = future._final
        if final is not None and self._notify_finished:
            # Finished at submission (an inline runner, a NotReady run): no wait will report it.
            self.hook.taskloom_task_run_finished(flow_run=self.info, call=future.call, state=final)

    # -- the end of the run -----------------------------------------------------------------

    def collect(self) -> list[State]:
        """Wait for every task run of this flow run; their final states, in submission order."""
        states = []
        for future in self.futures:
            state = future.wait()
            assert state is not None
            states.append(state)
        return states

    def final_state(self, result: Any) -> State:
        """The flow run's state from what its function returned (see the contract)."""
        task_states = self.collect()
        if result is None:
            return aggregate([*task_states, *self.subflow_states])
        if isinstance(result, (State, TaskloomFuture)) or (
            type(result) in _CONTAINERS and _holds_states(result)
        ):
            states: list[State] = []
            value = _resolve_states(result, states)
            state = aggregate(states)
            if state.is_completed():
                state = Completed(state.message, data=value)
            return state
        return Completed(data=result)


def _holds_states(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return any(isinstance(item, (State, TaskloomFuture)) for item in items)


def _resolve_states(value: Any, states: list[State]) -> Any:
    if isinstance(value, TaskloomFuture):
        value = value.wait()
    if isinstance(value, State):
        states.append(value)
        return value.data if value.is_completed() else None
    cls = type(value)
    if cls is dict:
        return {k: _resolve_states(v, states) for k, v in value.items()}
    if cls in _CONTAINERS:
        return cls(_resolve_states(v, states) for v in value)
    return value


def aggregate(states: Sequence[State]) -> State:
    """One state for many: completed when all completed, else failed, counting the others."""
    not_completed = [s for s in states if not s.is_completed()]
    if not not_completed:
        return Completed("All states completed.")
    first = next((s for s in not_completed if s.is_failed() or s.is_crashed()), not_completed[0])
    return Failed(f"{len(not_completed)}/{len(states)} states failed.", data=first.exception())


def _runner_hooks_wrapped(plugins: pluggy.PluginManager) -> bool:
    hook = plugins.hook
    return any(
        len(caller.get_hookimpls()) > 1
        for caller in (
            hook.taskloom_runner_start,
            hook.taskloom_runner_submit,
            hook.taskloom_runner_wait,
            hook.taskloom_runner_shutdown,
        )
    )


# -- running a flow -------------------------------------------------------------------------


class _Outcome:
    """What the flow function did: returned a value, or raised."""

    __slots__ = ("error", "value")

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None


@contextmanager
def flow_run_scope(flow: Flow[..., Any]) -> Iterator[tuple[FlowRun, _Outcome, list[State]]]:
    """Everything around the flow function's call: logs, hooks, the runner, the final state.

    The body calls the function (sync or async) with the yielded run as the current run and
    records what happened in the outcome; the final state lands in the yielded list. When the
    runner fails to start, the outcome already holds that error and the body must not call the
    function: the run ends `Failed` with the runner's error (a generator-based context manager
    cannot skip its body, hence the flag rather than an exception).
    """
    ensure_console_logging()
    parent_run = current_run.get()
    parent = None if parent_run is None else parent_run.flow_run
    run = FlowRun(
        flow,
        flow.task_runner.duplicate(),
        parent if isinstance(parent, FlowRun) else None,
        get_plugin_manager(),
    )
    kind = "flow" if run.parent is None else "subflow"
    outcome = _Outcome()
    final: list[State] = []
    logger.info("Beginning %s run %r for flow %r...", kind, run.name, flow.name)
    run.hook.taskloom_flow_run_started(flow_run=run.info)
    interrupt: BaseException | None = None
    with _signals.flow_interrupts() if parent_run is None else nullcontext():
        try:
            logger.info("Starting task runner `%s`...", run.runner.name)
            try:
                run.start_runner()
            except BaseException as exc:
                outcome.error = exc
            token = current_run.set(run)
            try:
                yield run, outcome, final
            finally:
                current_run.reset(token)
            if outcome.error is None:
                state = run.final_state(outcome.value)
            elif isinstance(outcome.error, Exception):
                run.collect()
                state = _failed_flow(outcome.error)
            else:
                interrupt = outcome.error
                state = _interrupted(interrupt)
        except BaseException as exc:
            # Interrupted while collecting the task runs' final states.
            state = _failed_flow(exc) if isinstance(exc, Exception) else _interrupted(exc)
            interrupt = exc
        finally:
            logger.info("Shutting down task runner `%s`...", run.runner.name)
            _shut_down(run, interrupt, top_level=parent_run is None)
    logger.info("%s run %r finished in state %r", kind.capitalize(), run.name, state)
    if run.parent is not None:
        run.parent.subflow_states.append(state)
    run.hook.taskloom_flow_run_finished(flow_run=run.info, state=state)
    final.append(state)
    if interrupt is not None and not isinstance(interrupt, Exception):
        raise interrupt


#: How long an interrupted flow run's shutdown goes before the log says how to stop waiting.
SHUTDOWN_HINT_SECONDS = 2.0


def _shut_down(run: FlowRun, interrupt: BaseException | None, top_level: bool) -> None:
    """Shut the run's runner down; after an interruption, cancel its work first."""
    hint = None
    if interrupt is not None and top_level:
        import threading

        hint = threading.Timer(
            SHUTDOWN_HINT_SECONDS,
            logger.warning,
            (
                "Waiting for the task runs of flow run %r to stop; %s again exits at once",
                run.name,
                _signals.describe(interrupt),
            ),
        )
        hint.daemon = True
        hint.start()
    try:
        if interrupt is not None:
            run.runner.cancel()
        run.shutdown_runner()
    except Exception as exc:  # never hide the run's own outcome behind a shutdown error
        logger.error("Task runner `%s` failed to shut down: %s", run.runner.name, exc)
    finally:
        if hint is not None:
            hint.cancel()


def _interrupted(exc: BaseException) -> State:
    if _signals.cancels_flow(exc):
        return Cancelled(f"Flow run was cancelled by {_signals.describe(exc)}.", data=exc)
    return Crashed(f"Flow run interrupted by {type(exc).__name__}", data=exc)


def _failed_flow(exc: BaseException) -> State:
    from taskloom._task_call import _describe

    if isinstance(exc, FlowTimeout):
        return Failed(
            f"Flow run exceeded timeout of {exc.seconds} second(s)", name="TimedOut", data=exc
        )
    return Failed(f"Flow run encountered an exception: {_describe(exc)}", data=exc)


def run_flow_sync(flow: Flow[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> State:
    """Run a synchronous flow to its final state."""
    with flow_run_scope(flow) as (_, outcome, final):
        if outcome.error is None:
            try:
                if flow.timeout_seconds is None:
                    outcome.value = flow.fn(*args, **kwargs)
                else:
                    outcome.value = _with_flow_timeout(
                        flow.timeout_seconds, lambda: flow.fn(*args, **kwargs)
                    )
            except BaseException as exc:
                outcome.error = exc
    return final[0]


async def run_flow_async(
    flow: Flow[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> State:
    """Run an async flow to its final state on the running event loop."""
    import asyncio

    with flow_run_scope(flow) as (_, outcome, final):
        if outcome.error is None:
            try:
                awaitable = flow.fn(*args, **kwargs)
                if flow.timeout_seconds is None:
                    outcome.value = await awaitable
                else:
                    try:
                        async with asyncio.timeout(flow.timeout_seconds) as scope:
                            outcome.value = await awaitable
                    except TimeoutError:
                        if not scope.expired():
                            raise
                        raise FlowTimeout(flow.timeout_seconds) from None
            except BaseException as exc:
                outcome.error = exc
    return final[0]


class FlowTimeout(TimeoutError):
    """The flow function ran past the flow's `timeout_seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"Flow run exceeded timeout of {seconds} second(s)")
        self.seconds = seconds


def _with_flow_timeout(timeout: float, fn: Callable[[], Any]) -> Any:
    try:
        return call_in_thread(fn, timeout)
    except CallTimeout:
        raise FlowTimeout(timeout) from None
