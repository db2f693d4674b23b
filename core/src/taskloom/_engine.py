"""The flow engine: one flow run, from starting its runner to its final state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from taskloom import _signals
from taskloom._async import CallTimeout, call_in_thread, running_backend, with_time_limit
from taskloom._context import current_run, starting_run
from taskloom._failures import explain_failure
from taskloom._flow_run import FlowRun
from taskloom._logging import ensure_console_logging, logger
from taskloom._plugins import get_plugin_manager
from taskloom._state_handlers import call_state_handlers, call_terminal_state_handler
from taskloom.states import Cancelled, Crashed, Failed, Pending, Running, State

if TYPE_CHECKING:
    from taskloom._flows import Flow


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
    run.async_backend = running_backend() or ("asyncio" if parent is None else parent.async_backend)
    kind = "flow" if run.parent is None else "subflow"
    outcome = _Outcome()
    final: list[State] = []
    logger.info("Beginning %s run %r for flow %r...", kind, run.name, flow.name)
    run.hook.taskloom_flow_run_started(flow_run=run.info)
    interrupt: BaseException | None = None
    with _signals.flow_interrupts() if parent_run is None else nullcontext():
        try:
            logger.info("Starting %s...", run.runner_label)
            if flow.state_handlers:
                begun = call_state_handlers(
                    flow.state_handlers, flow, Pending(), Running(), f"flow run {run.name!r}"
                )
                if not begun.is_running():
                    outcome.error = _Replaced(begun)
            # What builds the runner's cluster (a `cluster_class` function) sees the run in
            # `taskloom.context`.
            starting = starting_run.set(run)
            try:
                if outcome.error is None:
                    run.start_runner()
            except BaseException as exc:
                outcome.error = exc
            finally:
                starting_run.reset(starting)
            token = current_run.set(run)
            try:
                yield run, outcome, final
            finally:
                current_run.reset(token)
            if outcome.error is not None:
                outcome.error = _signals.signal_exception(outcome.error)
            if outcome.error is None:
                state = run.final_state(outcome.value)
            elif isinstance(outcome.error, _Replaced):
                state = outcome.error.state
            elif isinstance(outcome.error, Exception):
                if isinstance(outcome.error, FlowTimeout):
                    # Past its timeout the flow's outcome is decided: its running task runs
                    # are cancelled (an async one sees the cancellation), not waited for.
                    run.cancel_runs()
                run.collect()
                state = _failed_flow(outcome.error)
            else:
                interrupt = outcome.error
                state = _interrupted(interrupt)
        except BaseException as caught:
            # Interrupted while collecting the task runs' final states.
            interrupt = _signals.signal_exception(caught)
            state = (
                _failed_flow(interrupt)
                if isinstance(interrupt, Exception)
                else _interrupted(interrupt)
            )
        finally:
            logger.info("Shutting down %s...", run.runner_label)
            _shut_down(run, interrupt, top_level=parent_run is None)
    if run._summaries:
        from taskloom._map_summary import wait_for_lines

        wait_for_lines(run._summaries)
    if interrupt is None:
        if not state.is_completed():
            explain_failure(state, run.futures)
        state = _handled(flow, run, state)
    logger.info("%s run %r finished in state %r", kind.capitalize(), run.name, state)
    if run.parent is not None:
        run.parent.subflow_states.append(state)
    run.hook.taskloom_flow_run_finished(flow_run=run.info, state=state)
    final.append(state)
    if interrupt is not None and not isinstance(interrupt, Exception):
        raise interrupt


class _Replaced(Exception):
    """A flow state handler put a final state in place of `Running`: the function never runs."""

    def __init__(self, state: State) -> None:
        super().__init__(state.message)
        self.state = state


def _handled(flow: Flow[..., Any], run: FlowRun, state: State) -> State:
    """The final state after the flow's terminal state handler and state handlers, which run
    once the runner is shut down (its performance report is written by then)."""
    handler = flow.terminal_state_handler
    label = f"flow run {run.name!r}"
    if handler is not None:
        state = call_terminal_state_handler(
            handler, flow.for_handlers, state, run.reference_states(), label
        )
    if flow.state_handlers:
        state = call_state_handlers(flow.state_handlers, flow.for_handlers, Running(), state, label)
    return state


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
            run.cancel_chains()
        run.stop_runner(run.runner, cancel=interrupt is not None)
    finally:
        try:
            run.shutdown_lanes(cancel=interrupt is not None)
        finally:
            # None is left waiting for a runner that is gone (after a flow run that ended well
            # every one was final before this).
            run.cancel_chains()
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
    """Run an async flow to its final state on the running event loop (asyncio or trio)."""
    with flow_run_scope(flow) as (_, outcome, final):
        if outcome.error is None:
            try:
                try:
                    outcome.value = await with_time_limit(
                        flow.fn(*args, **kwargs), flow.timeout_seconds
                    )
                except CallTimeout:
                    assert flow.timeout_seconds is not None
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
