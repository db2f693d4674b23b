"""State handlers, the older vocabulary: `fn(obj, old_state, new_state)` on tasks and flows,
called as a run changes state, able to put another state in place of the new one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from taskloom.states import Failed, State

StateHandler: TypeAlias = Callable[[Any, State, State], "State | None"]


def check_state_handlers(handlers: Any) -> tuple[StateHandler, ...]:
    """`handlers` as a tuple, once each is known to be callable."""
    if handlers is None:
        return ()
    if callable(handlers) or isinstance(handlers, str):
        raise TypeError(f"state_handlers takes a list of functions; got {handlers!r}")
    checked: tuple[StateHandler, ...] = tuple(handlers)
    for handler in checked:
        if not callable(handler):
            raise TypeError(f"a state handler must be callable; got {handler!r}")
    return checked


def call_state_handlers(
    handlers: tuple[StateHandler, ...], obj: Any, old: State, new: State, label: str
) -> State:
    """`new`, or the state the handlers put in its place, each seeing the one before it.

    A handler that raises fails the run, as in Prefect 1: its state is `Failed` with that error.
    """
    for handler in handlers:
        new, raised = _guarded(handler, label, new, obj, old, new)
        if raised:
            return new
    return new


def call_terminal_state_handler(
    handler: Callable[[Any, State, Any], State | None],
    obj: Any,
    state: State,
    reference_states: Any,
    label: str,
) -> State:
    """`state`, or the state a flow's terminal state handler puts in its place; it is given
    the flow, its final state and the states of the runs that decide it."""
    return _guarded(handler, label, state, obj, state, reference_states)[0]


def _guarded(
    handler: Callable[..., Any], label: str, current: State, *args: Any
) -> tuple[State, bool]:
    """What `handler(*args)` puts in place of `current`, and whether it raised: then the state
    is `Failed` with its error (returning something other than a State or None counts)."""
    try:
        replaced = handler(*args)
        if replaced is not None and not isinstance(replaced, State):
            raise TypeError(f"it returned {replaced!r}; a state handler returns a State or None")
    except Exception as exc:
        from taskloom._logging import logger

        name = getattr(handler, "__qualname__", repr(handler))
        logger.error("State handler %s of %s raised:", name, label, exc_info=exc)
        return Failed(f"State handler {name} raised {type(exc).__name__}: {exc}", data=exc), True
    return (current if replaced is None else replaced), False
