"""Runs held back while the engine is saturated, sent on in groups as its submissions return.

An engine whose cost per task is paid in the flow's process (the stdlib process pool pays
about 100 us of the flow process's CPU per task, more than a trivial run costs in a worker)
gains nothing from being handed more runs than its workers can start: the extra ones queue
inside it. A `Backlog` keeps those in the runner instead, and when one of the engine's
submissions comes back it sends what waits on, several runs to a submission when earlier
runs of the same kind (task and flow run, say) came back quickly: each run still runs as
itself (its own state, retries, timeout and log lines), one after another in one engine
task, as in a batched map. This is guided
self-scheduling: a group takes a share of what waits, so groups shrink as the backlog does
and the last runs go one at a time, and runs that take long are never grouped.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")

#: A group takes at most this share of the runs waiting, per worker: 1/4 of what would be a
#: worker's fair share, so groups shrink geometrically and no worker is handed the tail.
GUIDE = 4

#: The most runs one submission carries: their results come back together.
MAX_GROUP = 64

#: Runs are grouped only while the submissions coming back took under this long per run
#: (queueing in the engine included, so it overestimates): grouping saves the engine's cost
#: per task, about 0.1 ms on a process pool, which a run this long would not notice; a long
#: run in a group would hold the runs after it.
GROUP_RUNS_UNDER = 0.005

#: And a group is cut so that, at that pace, it would take no longer than this.
GROUP_SECONDS = 0.02


class Backlog(Generic[T]):
    """Hold runs while `depth` submissions are in the engine; send them on as those return.

    `send(items, done)` submits `items` (one run, or several of the same `key`) as one engine
    submission and must see to it that `done()` is called exactly once, when that submission
    has come back or failed to go; it must not raise. `key(item)` says which runs may share a
    submission (the same task and flow run, say); `None` keeps a run on its own.

    `offer(item)` sends at once while fewer than `depth` submissions are out, and otherwise
    holds the run; each `done()` sends the next group. `close()` sends everything held and
    makes later offers go at once: call it before the runner stops sending, so that no run is
    left held. Every method may be called from any thread; `send` is never called under the
    backlog's lock, and a `done()` called from inside `send` is deferred to the caller's loop,
    so a long backlog of submissions that end at once does not recurse.
    """

    def __init__(
        self,
        send: Callable[[Sequence[T], Callable[[], None]], None],
        key: Callable[[T], Hashable | None],
        *,
        depth: int,
        workers: int,
    ) -> None:
        if depth < 1 or workers < 1:
            raise ValueError(f"depth and workers must be positive; got {depth}, {workers}")
        self._send = send
        self._key = key
        self._depth = depth
        self._workers = workers
        self._lock = threading.Lock()
        self._held: deque[T] = deque()
        self._out = 0
        self._closed = False
        # Seconds per run of the last submission of each key back; none until one is (no
        # grouping before: a task's first runs could be long, whatever other tasks' took).
        self._paces: dict[Hashable, float] = {}
        self._local = threading.local()

    @property
    def held(self) -> int:
        """How many runs wait in the backlog."""
        return len(self._held)

    def offer(self, item: T) -> None:
        """Send `item` now if the engine has room (or the backlog is closed), else hold it."""
        with self._lock:
            if not self._closed and self._out >= self._depth:
                self._held.append(item)
                return
            self._out += 1
        self._dispatch([item])

    def close(self) -> None:
        """Send every run held, in groups, and from now on send each offered run at once."""
        with self._lock:
            self._closed = True
            groups = []
            while self._held:
                groups.append(self._take())
            self._out += len(groups)
        for group in groups:
            self._dispatch(group)

    def _returned(self, key: Hashable | None, runs: int, seconds: float) -> None:
        with self._lock:
            if key is not None:
                self._paces[key] = seconds / runs
            if not self._held:
                self._out -= 1
                return
            group = self._take()
        self._dispatch(group)

    def _take(self) -> list[T]:
        """The next group: under the lock, with at least one run held."""
        first = self._held.popleft()
        group = [first]
        key = self._key(first)
        pace = None if key is None else self._paces.get(key)
        if pace is None or pace >= GROUP_RUNS_UNDER:
            return group
        size = min(
            MAX_GROUP,
            math.ceil(len(self._held) / (GUIDE * self._workers)),
            max(1, int(GROUP_SECONDS / max(pace, 1e-9))),
        )
        while len(group) < size and self._held and self._key(self._held[0]) == key:
            group.append(self._held.popleft())
        return group

    def _dispatch(self, group: list[T]) -> None:
        """Send `group`; a `done()` that comes back inside a send queues its next group here
        instead of sending it from deeper in the stack."""
        pending: deque[list[T]] | None = getattr(self._local, "pending", None)
        if pending is not None:
            pending.append(group)
            return
        pending = self._local.pending = deque([group])
        error: BaseException | None = None
        try:
            while pending:
                try:
                    self._send_one(pending.popleft())
                except BaseException as exc:  # the groups queued behind it still go
                    error = error or exc
        finally:
            self._local.pending = None
        if error is not None:
            raise error

    def _send_one(self, group: list[T]) -> None:
        started = time.perf_counter()
        key = self._key(group[0])
        once = [True]

        def done() -> None:
            try:
                once.pop()  # atomic: a second call, from whichever thread, does nothing
            except IndexError:
                return
            self._returned(key, len(group), time.perf_counter() - started)

        try:
            self._send(group, done)
        except BaseException:
            done()
            raise
