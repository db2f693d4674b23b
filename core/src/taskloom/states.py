"""Run states: what a task run or flow run ended in, and the value or error it carries."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Any

from taskloom.exceptions import CancelledRun, CrashedRun, FailedRun, UpstreamTaskError

__all__ = [
    "Cancelled",
    "Completed",
    "Crashed",
    "Failed",
    "Pending",
    "Running",
    "State",
    "StateType",
]


class StateType(enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    CRASHED = "CRASHED"

    def __repr__(self) -> str:
        return self.value

    @property
    def default_name(self) -> str:
        """The state name a state of this type has unless given another: `Completed`..."""
        return self.value.capitalize()


# Enum hashing and properties are slow, and states are made once per task run: plain constants.
_PENDING = StateType.PENDING
_RUNNING = StateType.RUNNING
_COMPLETED = StateType.COMPLETED
_FAILED = StateType.FAILED
_CANCELLED = StateType.CANCELLED
_CRASHED = StateType.CRASHED
_DEFAULT_NAMES = {kind.value: kind.value.capitalize() for kind in StateType}

_NOT_LOADED = object()


class State:
    """A run's state: its type, a display name, a message and its data.

    For a completed run the data is the return value; for a failed or crashed one it is the
    exception. Engines that keep results remote (Dask, Ray) give a *loader* instead, called the
    first time the value is needed, so a state can be final without its data ever reaching the
    flow's process.
    """

    __slots__ = ("_data", "_loader", "message", "name", "type")

    def __init__(
        self,
        type: StateType,
        *,
        name: str | None = None,
        message: str | None = None,
        data: Any = None,
        loader: Callable[[], Any] | None = None,
    ) -> None:
        self.type = type
        self.name = name or _DEFAULT_NAMES[type._value_]
        self.message = message
        self._data = _NOT_LOADED if loader is not None else data
        self._loader = loader

    @property
    def data(self) -> Any:
        """The value or exception this state carries, loaded on first access."""
        if self._data is _NOT_LOADED:
            loader = self._loader
            assert loader is not None
            self._data = loader()
            self._loader = None
        return self._data

    @classmethod
    def completed(cls, data: Any) -> State:
        """A plain `Completed` state holding `data`: the engine's fast path."""
        state = cls.__new__(cls)
        state.type = _COMPLETED
        state.name = "Completed"
        state.message = None
        state._data = data
        state._loader = None
        return state

    def is_pending(self) -> bool:
        return self.type is _PENDING

    def is_running(self) -> bool:
        return self.type is _RUNNING

    def is_completed(self) -> bool:
        return self.type is _COMPLETED

    def is_failed(self) -> bool:
        return self.type is _FAILED

    def is_crashed(self) -> bool:
        return self.type is _CRASHED

    def is_cancelled(self) -> bool:
        return self.type is _CANCELLED

    def is_final(self) -> bool:
        return self.type is not _PENDING and self.type is not _RUNNING

    def is_loaded(self) -> bool:
        """Whether the data is here (False for a state whose data loads on first use)."""
        return self._data is not _NOT_LOADED

    def provide(self, data: Any) -> None:
        """Give a state whose data loads on first use its data now: what a runner does that
        fetched many runs' results in one request. A state already loaded keeps its own."""
        if self._data is _NOT_LOADED:
            self._data = data
            self._loader = None

    def result(self, raise_on_failure: bool = True) -> Any:
        """The run's return value; for a run that did not complete, its exception.

        The exception is raised unless `raise_on_failure` is false, in which case it is returned.
        """
        if self.type is _COMPLETED:
            data = self._data
            return self.data if data is _NOT_LOADED else data
        exc = self.exception()
        if raise_on_failure:
            raise exc
        return exc

    def exception(self) -> BaseException:
        """The exception to raise for a state that is not completed."""
        return _exception_for(self)

    def without_data(self) -> State:
        """A copy with the same type, name and message but no data (cheap to send across)."""
        return State(self.type, name=self.name, message=self.message)

    def __repr__(self) -> str:
        return f"{self.name}(message={self.message!r}, type={self.type.value})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.type, self.name, self.message, self.data))


def _rebuild(type: StateType, name: str, message: str | None, data: Any) -> State:
    return State(type, name=name, message=message, data=data)


def Pending(message: str | None = None, *, name: str | None = None, data: Any = None) -> State:  # noqa: N802
    return State(StateType.PENDING, name=name, message=message, data=data)


def Running(message: str | None = None, *, name: str | None = None, data: Any = None) -> State:  # noqa: N802
    return State(StateType.RUNNING, name=name, message=message, data=data)


def Completed(  # noqa: N802
    message: str | None = None,
    *,
    name: str | None = None,
    data: Any = None,
    loader: Callable[[], Any] | None = None,
) -> State:
    return State(StateType.COMPLETED, name=name, message=message, data=data, loader=loader)


def Failed(message: str | None = None, *, name: str | None = None, data: Any = None) -> State:  # noqa: N802
    return State(StateType.FAILED, name=name, message=message, data=data)


def Cancelled(message: str | None = None, *, name: str | None = None, data: Any = None) -> State:  # noqa: N802
    return State(StateType.CANCELLED, name=name, message=message, data=data)


def Crashed(message: str | None = None, *, name: str | None = None, data: Any = None) -> State:  # noqa: N802
    return State(StateType.CRASHED, name=name, message=message, data=data)


def aggregate(states: Sequence[State]) -> State:
    """One state for many: completed when all completed, else failed, counting the others."""
    not_completed = [s for s in states if not s.is_completed()]
    if not not_completed:
        return Completed("All states completed.")
    first = next((s for s in not_completed if s.is_failed() or s.is_crashed()), not_completed[0])
    return Failed(f"{len(not_completed)}/{len(states)} states failed.", data=first.exception())


def _exception_for(state: State) -> BaseException:
    """The exception that stands for a state that did not complete."""
    data: Any = state.data
    if isinstance(data, BaseException):
        if not isinstance(data, Exception):
            # Raising the KeyboardInterrupt or SystemExit of a worker, or the signal that
            # cancelled a flow run, would stop the caller for something that already ended.
            if state.is_cancelled():
                return CancelledRun(state.message or repr(data))
            if state.is_crashed():
                return CrashedRun(state.message or repr(data))
        return data
    if state.is_crashed():
        return CrashedRun(state.message or "Run crashed.")
    if state.is_cancelled():
        return CancelledRun(state.message or "Run cancelled.")
    if state.is_pending() and state.name == "NotReady":
        return UpstreamTaskError(state.message)
    return FailedRun(state.message or f"Run finished in state {state!r}")
