"""Starting a run once its upstream runs are final, without a thread waiting for them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from taskloom.futures import TaskloomFuture

_lock = threading.Lock()


def when_final(upstream: Sequence[TaskloomFuture], start: Callable[[], None]) -> None:
    """Call `start()` once every future in `upstream` is final: now, or from the thread that
    finishes the last of them."""
    pending = [future for future in upstream if not future.done()]
    if not pending:
        start()
        return
    remaining = [len(pending)]

    def one_done(_: TaskloomFuture) -> None:
        with _lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            start()

    for future in pending:
        future.add_done_callback(one_done)
