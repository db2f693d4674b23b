"""Starting a run once its upstream runs are final, without a thread waiting for them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from taskloom.futures import TaskloomFuture

_lock = threading.Lock()


def when_final(upstream: Sequence[TaskloomFuture], start: Callable[[], None]) -> None:
    """Call `start()` once every future in `upstream` is final: now, or from the thread that
    finishes the last of them (through the futures' `add_done_callback`)."""
    pending = [future for future in upstream if not future.done()]
    if not pending:
        start()
        return
    one_done = countdown(len(pending), start)
    for future in pending:
        future.add_done_callback(one_done)


def countdown(count: int, start: Callable[[], None]) -> Callable[..., None]:
    """A function that calls `start()` when it has been called `count` times (whatever it is
    given), from the thread that calls it last."""
    remaining = [count]

    def one_done(*_: object) -> None:
        with _lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            start()

    return one_done


F = TypeVar("F", bound=TaskloomFuture)


def unstarted_upstream_first(
    future: F,
    unstarted: Callable[[TaskloomFuture], bool],
    upstream_of: Callable[[F], Iterable[Any]],
) -> list[F]:
    """`future` and the runs it depends on, directly or not, for which `unstarted(run)` holds:
    upstream first, so running them in that order never waits for one of them.

    For a runner whose worker waits for a run that has not started: running that run, and what
    it waits for, in the waiting thread keeps waiting tasks from holding every worker while the
    runs they wait for queue behind them. Iterative, so a long chain does not exhaust the stack.
    """
    order: list[F] = []
    seen = {future}
    stack = [(future, iter(upstream_of(future)))]
    while stack:
        current, upstream = stack[-1]
        for candidate in upstream:
            if candidate not in seen and unstarted(candidate):
                seen.add(candidate)
                stack.append((candidate, iter(upstream_of(candidate))))
                break
        else:
            stack.pop()
            order.append(current)
    return order
