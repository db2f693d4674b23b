"""The processes a flow run started: found by parentage and start time, killed on a hard exit.

Runners start processes of their own (a process pool's workers, a temporary Dask cluster's, a
local Ray's daemons, and their children in turn). When a flow must exit at once, without
waiting for its runner's shutdown, every descendant of this process that started after the
flow run began is killed: those are the flow's, whichever runner made them.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator

_PROC = "/proc"
_DEAD = (b"Z", b"X")


_BOOT_CLOCK = getattr(time, "CLOCK_BOOTTIME", None)


def now() -> float:
    """The clock that process start times are read against: seconds since boot, where the
    platform has one (else the wall clock; only the fallback below uses it then)."""
    if _BOOT_CLOCK is not None:
        return time.clock_gettime(_BOOT_CLOCK)
    return time.time()


def _processes() -> Iterator[tuple[int, int, float]]:
    """(pid, parent pid, start time in seconds since boot) of every live process (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir(_PROC):
        if not entry.isdigit():
            continue
        try:
            with open(f"{_PROC}/{entry}/stat", "rb") as file:
                stat = file.read()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        # `pid (command) state ppid ...`: the command may hold spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if fields[0] in _DEAD:  # exited, waiting for its parent to read its status
            continue
        yield int(entry), int(fields[1]), int(fields[19]) / ticks


def started_since(since: float, root: int | None = None) -> list[int]:
    """Descendants of `root` (this process) started at `since` (a `now()` reading) or later,
    deepest last."""
    root = os.getpid() if root is None else root
    if not os.path.isdir(_PROC):
        return _child_processes_elsewhere()
    children: dict[int, list[tuple[int, float]]] = {}
    for pid, parent, started in _processes():
        children.setdefault(parent, []).append((pid, started))
    found: list[int] = []
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, started in children.get(parent, ()):
            # A process started before the flow run is not the flow's, nor are its children.
            if started + 0.02 >= since:
                found.append(pid)
                frontier.append(pid)
    return found


def _child_processes_elsewhere() -> list[int]:
    """Without /proc: the multiprocessing children, which is what the runners start there."""
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is None:
        return []
    return [p.pid for p in multiprocessing.active_children() if p.pid is not None]


def kill(pids: list[int]) -> int:
    """SIGKILL each process; how many were still there to kill."""
    killed = 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
        killed += 1
    return killed


def alive(pids: list[int]) -> list[int]:
    """Those of `pids` still running (not exited, not a zombie waiting to be reaped)."""
    if not os.path.isdir(_PROC):
        return [pid for pid in pids if _signalable(pid)]
    found = []
    for pid in pids:
        try:
            with open(f"{_PROC}/{pid}/stat", "rb") as file:
                stat = file.read()
        except OSError:
            continue
        if stat[stat.rfind(b")") + 2 :].split()[0] not in _DEAD:
            found.append(pid)
    return found


def _signalable(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
