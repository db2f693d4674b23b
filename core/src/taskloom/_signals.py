"""Ctrl-C and SIGTERM during a flow run: the first cancels the flow, a second exits at once.

A task that raises `KeyboardInterrupt` itself only crashes that task run. A signal sent to the
flow's process stops the flow instead: while a top-level flow runs in the main thread, the first
SIGINT or SIGTERM raises `FlowInterrupted` or `FlowTerminated` there, and the engine cancels the
flow run (queued task runs never start, running ones are told to stop, the runner shuts down)
and ends it `Cancelled`. Both signals end a flow the same way; SIGTERM becomes an exception at
all so that runners are shut down (clusters closed, worker processes stopped) on the way out.

That shutdown may wait for task runs that do not stop at once (a thread in a long C call). A
second signal does not wait: it kills the processes started since the flow run began and exits
at once with 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from taskloom import _process_tree
from taskloom._async import is_async_cancellation
from taskloom.exceptions import FlowInterrupted, FlowTerminated

_NAMES = {signal.SIGINT: "SIGINT (Ctrl-C)", signal.SIGTERM: "SIGTERM"}


def is_flow_interrupt(exc: BaseException) -> bool:
    """Whether `exc` is the exception a signal to the flow's process raised."""
    return isinstance(exc, (FlowInterrupted, FlowTerminated))


def cancels_flow(exc: BaseException) -> bool:
    """Whether `exc`, reaching a flow run, cancels it: a signal's exception, a plain
    `KeyboardInterrupt` (an application's own Ctrl-C handler), or an event loop's cancellation."""
    return isinstance(exc, (KeyboardInterrupt, FlowTerminated)) or is_async_cancellation(exc)


def describe(exc: BaseException) -> str:
    """What cancelled a flow run, for its final state: `SIGINT (Ctrl-C)`, `SIGTERM`, ..."""
    if isinstance(exc, FlowInterrupted):
        return _NAMES[signal.SIGINT]
    if isinstance(exc, FlowTerminated):
        return _NAMES[signal.SIGTERM]
    return type(exc).__name__


class _Watch:
    """The signals of one top-level flow run: when it began, and whether one has arrived."""

    def __init__(self) -> None:
        self.since = _process_tree.now()
        self.received: int | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            _exit_at_once(signum, self.since)
        self.received = signum
        if signum == signal.SIGINT:
            raise FlowInterrupted(_NAMES[signal.SIGINT])
        raise FlowTerminated(_NAMES[signal.SIGTERM])


def _exit_at_once(signum: int, since: float) -> None:
    killed = _process_tree.kill(_process_tree.started_since(since))
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    name = _NAMES.get(signal.Signals(signum), str(signum))
    message = f"{name} again: exiting at once"
    if killed:
        message += f", {killed} process(es) of the flow run killed"
    with contextlib.suppress(OSError):
        os.write(2, f"{message}\n".encode())
    os._exit(128 + signum)


def pending() -> bool:
    """Whether a top-level flow run of this thread was hit by a signal and is shutting down."""
    watch = _current
    return watch is not None and watch.received is not None


def signal_exception(exc: BaseException) -> BaseException:
    """The exception to end the flow run with, for `exc` reaching it.

    Some engines replace the exception a signal handler raised during one of their calls with
    their own (Ray raises a bare `KeyboardInterrupt` or a `SystemError`): once a signal has
    arrived, what reaches the flow run stands for it, and the run ends as the signal says.
    """
    watch = _current
    if watch is None or watch.received is None or is_flow_interrupt(exc):
        return exc
    replacement: BaseException = (
        FlowInterrupted(_NAMES[signal.SIGINT])
        if watch.received == signal.SIGINT
        else FlowTerminated(_NAMES[signal.SIGTERM])
    )
    replacement.__context__ = exc
    return replacement


_current: _Watch | None = None


@contextmanager
def flow_interrupts() -> Iterator[None]:
    """Install the handlers for the duration of a top-level flow run in the main thread.

    Handlers the application installed itself are left alone.
    """
    global _current
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    watch = _Watch()
    previous: list[tuple[int, Callable[..., Any] | int | None]] = []
    wanted: tuple[tuple[signal.Signals, object], ...] = (
        (signal.SIGINT, signal.default_int_handler),
        (signal.SIGTERM, signal.SIG_DFL),
    )
    for signum, default in wanted:
        current = signal.getsignal(signum)
        if current is default:
            signal.signal(signum, watch.handle)
            previous.append((signum, current))
    outer, _current = _current, watch
    try:
        yield
    finally:
        _current = outer
        for number, installed in previous:
            signal.signal(number, installed)
