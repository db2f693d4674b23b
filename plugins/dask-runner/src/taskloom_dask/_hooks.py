"""The hook that lets `task_runner="tcp://host:8786"` mean a Dask cluster at that address.

Registered through the `taskloom` entry-point group; imported whenever the plugin manager
loads, so it imports nothing from dask until an address is actually claimed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskloom.hookspecs import hookimpl

if TYPE_CHECKING:
    from taskloom.task_runners import TaskRunner

#: `dask://host:port` is this plugin's alias for the scheduler's own `tcp://host:port`.
_ALIASES = {"dask://": "tcp://"}
#: `tls://` too: a TLS scheduler whose credentials the dask configuration holds.
_CLAIMED = ("tcp://", "tls://", *_ALIASES)


def scheduler_address(spec: str) -> str | None:
    """The scheduler address a `task_runner=` string names, or None if it names none."""
    lowered = spec.lower()
    for prefix in _CLAIMED:
        if lowered.startswith(prefix):
            rest = spec[len(prefix) :]
            if not rest or rest.startswith("/"):
                return None
            return _ALIASES.get(prefix, prefix) + rest
    return None


@hookimpl
def taskloom_resolve_task_runner(spec: str) -> TaskRunner | None:
    """Claim `tcp://`, `tls://` and `dask://host:port`: a runner for the scheduler there."""
    address = scheduler_address(spec)
    if address is None:
        return None
    from taskloom_dask._distributed_runner import DaskTaskRunner

    return DaskTaskRunner(address=address)
