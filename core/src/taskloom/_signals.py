"""Ctrl-C and SIGTERM during a flow run: turned into exceptions that stop the whole flow.

A task that raises `KeyboardInterrupt` itself only crashes that task run. A signal sent to the
flow's process must stop the flow instead, so while a top-level flow runs in the main thread,
SIGINT and SIGTERM raise exceptions marked as flow interrupts, which the task engine re-raises
after recording the crash. SIGTERM becomes an exception at all so that runners are shut down
(clusters closed, worker processes stopped) on the way out.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class FlowInterrupted(KeyboardInterrupt):
    """The flow's process received SIGINT (Ctrl-C)."""


class FlowTerminated(SystemExit):
    """The flow's process received SIGTERM."""

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)


def is_flow_interrupt(exc: BaseException) -> bool:
    return isinstance(exc, (FlowInterrupted, FlowTerminated))


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    raise FlowInterrupted


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise FlowTerminated


@contextmanager
def flow_interrupts() -> Iterator[None]:
    """Install the handlers for the duration of a top-level flow run in the main thread.

    Handlers the application installed itself are left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: list[tuple[int, Callable[..., Any] | int | None]] = []
    wanted: tuple[tuple[signal.Signals, object, Callable[..., Any]], ...] = (
        (signal.SIGINT, signal.default_int_handler, _on_sigint),
        (signal.SIGTERM, signal.SIG_DFL, _on_sigterm),
    )
    for signum, default, handler in wanted:
        current = signal.getsignal(signum)
        if current is default:
            signal.signal(signum, handler)
            previous.append((signum, current))
    try:
        yield
    finally:
        for number, installed in previous:
            signal.signal(number, installed)
