"""taskloom's Dask task runners: on a `dask.distributed` cluster, and on dask's local schedulers.

`DaskTaskRunner` submits task runs to a Dask cluster, a temporary one it creates or an existing
one at an address. `LocalDaskTaskRunner` runs them on dask's local schedulers (threads,
processes or synchronous) and needs only `dask`.

Importing this package imports neither dask nor distributed: each runner class is loaded when
first used, so the hook module (found through entry points at every flow definition that names
an address) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskloom_dask._distributed_runner import DaskTaskRunner
    from taskloom_dask._local_runner import LocalDaskTaskRunner

__all__ = ["DaskTaskRunner", "LocalDaskTaskRunner"]

_LAZY = {
    "DaskTaskRunner": "taskloom_dask._distributed_runner",
    "LocalDaskTaskRunner": "taskloom_dask._local_runner",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
