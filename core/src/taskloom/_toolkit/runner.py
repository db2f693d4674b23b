"""The task runner contract every runner plugin implements."""

from __future__ import annotations

import abc
import copy
import inspect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import Self

    from taskloom._task_call import TaskCall
    from taskloom.futures import TaskloomFuture
    from taskloom.states import State


class TaskRunner(abc.ABC):
    """Runs the task runs of one flow run somewhere: a thread, a process, a cluster.

    A runner's life is start → submit (many times) → wait (through its futures) → shutdown.
    The flow engine drives it: each flow run works on its own `duplicate()` of the runner the
    flow was configured with, started when the flow run begins and shut down when it ends.

    A runner plugin implements `submit` and, where it holds resources, `_start` and
    `_shutdown`::

        class InlineTaskRunner(TaskRunner):
            def submit(self, call, upstream):
                return FinishedFuture(call, call.run([f.wait() for f in upstream]))

    `submit` receives a `TaskCall`, the engine's picklable description of one task run, and
    the futures of the runs it depends on (data and `wait_for` alike, all of this runner).
    It must start the call once all of them are final, passing their final states in the same
    order: `call.run(states)` (or `await call.run_async(states)` for `call.is_async`) does the
    rest (retries, timeouts, logging, the `NotReady` rule) and returns the run's final state.
    Engines that hand results between workers themselves (Dask, Ray) use
    `call.run_for_engine(*values)`, which returns the bare result or raises
    `TaskRunFailure`, with `call.state_from_error(exc)` to read a state back.

    `start` and `shutdown` are idempotent and the runner is a context manager around them.

    Runners compare by configuration: two runners are equal when they are of the same class
    and have equal `options`, started or not, and equal runners hash alike. A started runner
    holds live resources (pools, clients) that take no part in equality, so a runner equals
    its `duplicate()` and its pickled copy. `repr` shows the options that differ from the
    defaults of `__init__`.
    """

    #: Whether `submit` runs the call before it returns (the sequential runner). A run that
    #: takes a future of another runner not final yet is then submitted once that future is,
    #: in the submitting thread, which waits for it; on other runners it is submitted later,
    #: from a thread of the engine's, and `submit` returns at once.
    runs_at_submission: bool = False

    def __init__(self) -> None:
        self._started = False

    @property
    def name(self) -> str:
        """The name shown in logs: the class name."""
        return type(self).__name__

    @property
    def started(self) -> bool:
        return self._started

    @property
    def options(self) -> dict[str, Any]:
        """The runner's configuration, as `type(runner)(**runner.options)` takes it.

        The default reads each parameter of `__init__` from the attribute of the same name (a
        `**kwargs` parameter's attribute holds a mapping, whose items are merged in); a
        parameter with no such attribute is left out. A runner that stores its options under
        other names overrides this. Equality, hashing and `repr` are built on it.
        """
        found: dict[str, Any] = {}
        for name, parameter in _init_parameters(type(self)).items():
            if not hasattr(self, name):
                continue
            value = getattr(self, name)
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                found.update(value if isinstance(value, Mapping) else {})
            else:
                found[name] = value
        return found

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TaskRunner):
            return NotImplemented
        return type(self) is type(other) and self.options == other.options

    def __hash__(self) -> int:
        return hash((type(self), _hashable(self.options)))

    def duplicate(self) -> Self:
        """An unstarted copy with the same configuration, for one flow run.

        The default copies the instance's attributes; runners that create live resources must
        do so in `_start`, so a copy of an unstarted runner holds none.
        """
        new = copy.copy(self)
        new._started = False
        return new

    def start(self) -> None:
        """Acquire what the runner needs (pools, clusters, connections). Idempotent."""
        if self._started:
            return
        self._start()
        self._started = True

    def shutdown(self) -> None:
        """Release everything `start` acquired. Idempotent; safe after a failed start."""
        if not self._started:
            return
        try:
            self._shutdown()
        finally:
            self._started = False

    def cancel(self) -> None:
        """Stop the runner's work as far as its engine allows, without waiting for it.

        Called before `shutdown` when a flow run is cancelled (Ctrl-C, SIGTERM), so shutdown
        does not wait for tasks nobody will use: runs not started yet never start and end
        `Cancelled` (`call.cancelled(started=False)`, which logs no line per run); running
        ones are told to stop (threads through `ThreadCalls.stop`, worker processes the
        runner owns killed, cluster tasks cancelled). On a cluster the runner does not own,
        tasks its engine cannot stop finish there. From the first call on, the runner takes
        no new runs. Does nothing on a runner that is not started.
        """
        if self._started:
            self._cancel()

    def _start(self) -> None:
        """Runner-specific start-up; the default needs none."""

    def _cancel(self) -> None:
        """Runner-specific cancellation; the default leaves shutdown to wait for the work."""

    def _shutdown(self) -> None:
        """Runner-specific shutdown; the default needs none."""

    @abc.abstractmethod
    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        """Start `call` once the `upstream` futures are final and return its future at once.

        May run the call before returning (the sequential runner does). Never raises for a
        failure of the task itself: that is the returned future's state.
        """

    def submit_batch(self, calls: Sequence[TaskCall]) -> list[TaskloomFuture]:
        """Submit calls of one map that wait for no run; return their futures, in order.

        Called for `task.map(..., batch_size=k)`. A runner whose engine pays a cost per task
        overrides this to send the calls as one engine task that runs them one after another
        (`run_batch`), each call still ending in its own state (`batch_outcome_state`). The
        default submits each call on its own.
        """
        return [self.submit(call, ()) for call in calls]

    @property
    def parallelism(self) -> int:
        """How many task runs the runner runs at once, for `batch_size="auto"`: the number of
        cores unless the runner knows better (its workers' threads, its cluster's CPUs)."""
        import os

        return os.cpu_count() or 1

    def wait(self, future: TaskloomFuture, timeout: float | None) -> State | None:
        """Wait for one of this runner's futures; the default asks the future itself."""
        return future._wait(timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        parameters = _init_parameters(type(self))
        shown = []
        for name, value in self.options.items():
            default = parameters[name].default if name in parameters else inspect.Parameter.empty
            if not _is_default(value, default):
                shown.append(f"{name}={value!r}")
        return f"{self.name}({', '.join(shown)})"


def _is_default(value: Any, default: Any) -> bool:
    """Whether an option holds its `__init__` default; an empty collection stands for a None
    default (runners keep `cluster_kwargs=None` as `{}`)."""
    if default is inspect.Parameter.empty:
        return False
    if default is None and isinstance(value, (Mapping, list, tuple, set)) and not value:
        return True
    # `is` first: an option's value need not compare to its default without raising.
    return value is default or bool(value == default)


def _init_parameters(cls: type) -> dict[str, inspect.Parameter]:
    """The named and `**kwargs` parameters of `cls.__init__`, without `self`."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return {}
    return {
        name: parameter
        for name, parameter in signature.parameters.items()
        if parameter.kind is not inspect.Parameter.VAR_POSITIONAL
    }


def _hashable(value: Any) -> Any:
    """`value` as something hashable that is equal wherever `value` is: mappings as sets of
    items, sequences as tuples; what cannot hash counts only by its type."""
    if isinstance(value, Mapping):
        return frozenset((key, _hashable(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(_hashable(item) for item in value)
    try:
        hash(value)
    except TypeError:
        return type(value)
    return value
