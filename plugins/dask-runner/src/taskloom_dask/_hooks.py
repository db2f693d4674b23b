"""The hook that lets `task_runner="tcp://host:8786"` mean a Dask cluster at that address.

Registered through the `taskloom` entry-point group; imported whenever the plugin manager
loads, so it imports nothing from dask until an address is actually claimed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskloom.hookspecs import hookimpl
from taskloom_dask._addresses import SCHEMES, scheduler_address

if TYPE_CHECKING:
    from taskloom.task_runners import TaskRunner


@hookimpl
def taskloom_resolve_task_runner(spec: str) -> TaskRunner | None:
    """Claim `tcp://`, `tls://`, `dask://host:port` and a bare `host:port`: a runner for the
    scheduler there."""
    address = scheduler_address(spec)
    if address is None:
        return None
    from taskloom_dask._distributed_runner import DaskTaskRunner

    return DaskTaskRunner(address=address)


@hookimpl
def taskloom_address_schemes() -> list[str]:
    return SCHEMES
