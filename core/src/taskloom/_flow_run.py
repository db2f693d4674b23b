"""One run of a flow in this process: its runner (through the hooks when a plugin wraps them),
its task runs and subflow runs, and its final state from what the flow function returned."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from taskloom._logging import logger, summarizes_maps
from taskloom._names import flow_run_name
from taskloom._submitter import CONTAINERS, Submitter
from taskloom.futures import TaskloomFuture
from taskloom.hookspecs import FlowRunInfo
from taskloom.states import Completed, State, aggregate

if TYPE_CHECKING:
    import pluggy

    from taskloom._flows import Flow
    from taskloom._task_call import TaskCall
    from taskloom._toolkit.runner import TaskRunner


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
        super().__init__(flow_run_name(), flow.name, runner, str(uuid.uuid4()))
        self.flow = flow
        if flow.speaks_of_executors:
            self.runner_word = "executor"
        self.parent = parent
        self.info = FlowRunInfo(self.name, flow.name, runner, parent.info if parent else None)
        self.futures: list[TaskloomFuture] = []
        #: runners of tasks that name their own, in the order they started
        self.lanes: list[RunnerLane] = []
        self._lanes_by_spec: dict[Any, Submitter] = {}
        self._lanes_lock = threading.Lock()
        self.summarizes = summarizes_maps()
        self.subflow_states: list[State] = []
        self.hook = plugins.hook
        self._wrapped = _runner_hooks_wrapped(plugins)
        self._waiter: Callable[[TaskloomFuture, float | None], State | None] | None = None
        if self._wrapped:
            self._submit, self._submit_batch = self.submitters_for(runner)
            self._waiter = self._hook_wait
        self._notify_finished = bool(self.hook.taskloom_task_run_finished.get_hookimpls())
        if self._notify_finished:
            self._waiter = self._hook_wait
        if self.hook.taskloom_task_run_submitted.get_hookimpls():
            self._notify_submitted = self._hook_submitted
        self._notify_future = bool(self.hook.taskloom_task_run_future.get_hookimpls())

    # -- runners of tasks that name their own ---------------------------------------------------

    def lane_for(self, spec: Any) -> Submitter:
        """The submitter for runs of a task whose `task_runner` is `spec`: this flow run for
        None or a runner configured as this one's; else a lane of this flow run on a runner of
        its own, started on first use and shut down with the flow run (`shutdown_lanes`)."""
        if spec is None:
            return self
        lane = self._lanes_by_spec.get(_spec_key(spec))
        if lane is not None:
            return lane
        with self._lanes_lock:
            lane = self._lanes_by_spec.get(_spec_key(spec))
            if lane is None:
                from taskloom._registry import resolve_task_runner

                runner = resolve_task_runner(spec)
                if runner == self.runner:
                    lane = self
                else:
                    lane = next((ln for ln in self.lanes if ln.runner == runner), None)
                    if lane is None:
                        lane = RunnerLane(self, runner.duplicate())
                        self.lanes.append(lane)
                self._lanes_by_spec[_spec_key(spec)] = lane
        return lane

    def cancel_runs(self) -> None:
        """Cancel the run's task runs on every runner, without waiting for them: those waiting
        for another runner's runs first, so that none goes to a runner after its cancellation."""
        self.cancel_chains()
        self.runner.cancel()
        for lane in self.lanes:
            lane.runner.cancel()

    def shutdown_lanes(self, cancel: bool) -> None:
        """Shut the lanes' runners down (cancelling their work first when `cancel`)."""
        for lane in reversed(self.lanes):
            logger.info("Shutting down %s...", lane.runner_label)
            self.stop_runner(lane.runner, cancel)

    # -- the runner, through the hooks when a plugin wraps them -------------------------------

    # The flow's runner and its lanes' runners alike: each step goes to the runner directly
    # unless a plugin wraps it.

    def start_runner(self, runner: TaskRunner | None = None) -> None:
        runner = self.runner if runner is None else runner
        if self._wrapped:
            self.hook.taskloom_runner_start(runner=runner)
        else:
            runner.start()

    def shutdown_runner(self, runner: TaskRunner | None = None) -> None:
        runner = self.runner if runner is None else runner
        if self._wrapped:
            self.hook.taskloom_runner_shutdown(runner=runner)
        else:
            runner.shutdown()

    def stop_runner(self, runner: TaskRunner, cancel: bool) -> None:
        """Shut `runner` down, cancelling its work first when `cancel`; a failure is logged,
        never raised: it must not hide the run's own outcome, nor keep other runners up."""
        try:
            if cancel:
                runner.cancel()
            self.shutdown_runner(runner)
        except Exception as exc:
            logger.error("Task runner `%s` failed to shut down: %s", runner.name, exc)

    def submitters_for(
        self, runner: TaskRunner
    ) -> tuple[
        Callable[[TaskCall, Sequence[TaskloomFuture]], TaskloomFuture],
        Callable[[Sequence[TaskCall]], list[TaskloomFuture]],
    ]:
        """What submits a call and a batch to `runner`: the runner's own methods, or the hooks
        when a plugin wraps them."""
        if not self._wrapped:
            return runner.submit, runner.submit_batch
        hook = self.hook

        def submit(call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
            future: TaskloomFuture = hook.taskloom_runner_submit(
                runner=runner, call=call, upstream=upstream
            )
            return future

        def submit_batch(calls: Sequence[TaskCall]) -> list[TaskloomFuture]:
            futures: list[TaskloomFuture] = hook.taskloom_runner_submit_batch(
                runner=runner, calls=calls
            )
            return futures

        return submit, submit_batch

    def _hook_wait(self, future: TaskloomFuture, timeout: float | None) -> State | None:
        if self._wrapped:
            owner = future.owner  # this flow run or one of its lanes
            state: State | None = self.hook.taskloom_runner_wait(
                runner=self.runner if owner is None else owner.runner,
                future=future,
                timeout=timeout,
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
        if self._notify_future:
            self.hook.taskloom_task_run_future(flow_run=self.info, future=future)
        final = future._final
        if final is not None and self._notify_finished:
            # Finished at submission (an inline runner, a NotReady run): no wait will report it.
            self.hook.taskloom_task_run_finished(flow_run=self.info, call=future.call, state=final)

    # -- the end of the run -----------------------------------------------------------------

    def reference_states(self) -> set[State]:
        """What a terminal state handler is given: the final states of the runs the flow's
        state is judged by (a graph flow's terminal nodes; every task run of a function flow)."""
        states = set()
        for future in self.flow.reference_futures(self):
            state = future.wait()
            assert state is not None
            states.add(state)
        return states

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
            type(result) in CONTAINERS and _holds_states(result)
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
    if cls in CONTAINERS:
        return cls(_resolve_states(v, states) for v in value)
    return value


def _runner_hooks_wrapped(plugins: pluggy.PluginManager) -> bool:
    hook = plugins.hook
    return any(
        len(caller.get_hookimpls()) > 1
        for caller in (
            hook.taskloom_runner_start,
            hook.taskloom_runner_submit,
            hook.taskloom_runner_submit_batch,
            hook.taskloom_runner_wait,
            hook.taskloom_runner_shutdown,
        )
    )


def _spec_key(spec: Any) -> Any:
    # Runner instances compare by configuration but may be mutable: keyed by identity.
    return spec if isinstance(spec, (str, type)) else id(spec)


class RunnerLane(Submitter):
    """The runs of a flow run that go to another runner than the flow's: tasks whose
    `task_runner` names one. Named, logged and counted as the flow run's own runs; their
    futures feed tasks on any runner of the flow run (by value across runners)."""

    def __init__(self, flow_run: FlowRun, runner: TaskRunner) -> None:
        super().__init__(flow_run.name, flow_run.flow_name, runner, flow_run.id)
        self.parent_run = flow_run
        self.runner_word = flow_run.runner_word
        self.summarizes = flow_run.summarizes
        self.async_backend = flow_run.async_backend
        self._counters = flow_run._counters  # one numbering of each task's runs per flow run
        self.chains = flow_run.chains
        self._summaries = flow_run._summaries
        self._notify_submitted = flow_run._notify_submitted
        self._submit, self._submit_batch = flow_run.submitters_for(runner)
        logger.info("Starting %s...", self.runner_label)
        flow_run.start_runner(runner)

    def _track(self, future: TaskloomFuture) -> None:
        self.parent_run._track(future)
