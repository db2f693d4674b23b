"""Worker processes leave SIGINT and SIGTERM to the flow's process.

A terminal sends Ctrl-C to its whole process group, and a service manager its SIGTERM to every
process of the service, a runner's worker processes included. The flow's process hears it and
cancels its runs, stopping the workers itself; workers that heard it too would die on their own
first, each printing a `KeyboardInterrupt` traceback, and the runs in them would end `Crashed`.

So a runner starts its worker processes inside `signals_blocked()`, and each worker calls
`leave_signals_to_the_flow()` first thing (a pool's initializer): blocked from the moment the
process exists (a signal mask is inherited through fork and exec), then ignored. Stop such
workers with SIGKILL.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_SIGNALS = {signal.SIGINT, signal.SIGTERM}
# Windows has no signal masks; a console's Ctrl-C reaches workers there regardless.
_MASKS = hasattr(signal, "pthread_sigmask")


@contextmanager
def signals_blocked() -> Iterator[None]:
    """Block SIGINT and SIGTERM in this thread meanwhile: processes started here (and by
    threads started here) start with them blocked. A signal that arrives meanwhile reaches the
    flow's main thread as usual."""
    if not _MASKS:
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def leave_signals_to_the_flow() -> None:
    """In a worker process: ignore SIGINT and SIGTERM, then unblock them (one that arrived
    while they were blocked is dropped). From its main thread; elsewhere it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    if _MASKS:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
