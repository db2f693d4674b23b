"""Temporary clusters: which class makes them, with what arguments, and how they are started."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

import dask

from taskloom.exceptions import TaskRunnerError
from taskloom.task_runners import GUARD_HINT, main_script_lacks_guard, signals_blocked

ClusterFactory = Callable[..., Any]

#: How long a cluster's `adapt` coroutine may take (operator-style clusters create a resource).
ADAPT_TIMEOUT = 60.0

#: Where the default cluster listens: this machine only. A user's cluster_kwargs win.
_LOCAL_DEFAULTS = {"host": "127.0.0.1", "dashboard_address": "127.0.0.1:8787"}


def resolve_cluster_class(cluster_class: str | ClusterFactory | None) -> ClusterFactory:
    """The callable that creates a cluster: a class, a factory, or one named by import path.

    `"distributed.LocalCluster"` and `"distributed:LocalCluster"` both name a class.
    """
    if cluster_class is None:
        from distributed import LocalCluster

        return LocalCluster
    if isinstance(cluster_class, str):
        return _import(cluster_class)
    if callable(cluster_class):
        return cluster_class
    raise TypeError(
        "cluster_class must be a cluster class, a function returning a cluster, or an import "
        f"path such as 'distributed.LocalCluster'; got {cluster_class!r}"
    )


def _import(path: str) -> ClusterFactory:
    import importlib

    module_name, sep, attribute = path.partition(":")
    if not sep:
        module_name, _, attribute = path.rpartition(".")
    try:
        if not module_name:
            raise ImportError(f"{path!r} names no module")
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise TaskRunnerError(
            f"The Dask cluster class {path!r} could not be imported: {type(exc).__name__}: {exc}"
        ) from exc
    if not callable(target):
        raise TypeError(f"The Dask cluster class {path!r} is {target!r}, which is not callable")
    return target  # type: ignore[no-any-return]


def describe(factory: ClusterFactory) -> str:
    """`distributed.deploy.local.LocalCluster`: where the factory is defined, for the log."""
    module = getattr(factory, "__module__", None)
    name = getattr(factory, "__qualname__", None) or type(factory).__qualname__
    return f"{module}.{name}" if module else name


def is_local_cluster(factory: ClusterFactory) -> bool:
    from distributed import LocalCluster

    return isinstance(factory, type) and issubclass(factory, LocalCluster)


def cluster_arguments(
    factory: ClusterFactory, cluster_kwargs: Mapping[str, Any], debug: bool
) -> dict[str, Any]:
    """The arguments the cluster is created with: the user's, over our defaults for a
    `LocalCluster` (listen on 127.0.0.1; an in-process cluster over TCP, so its dashboard link
    and the addresses workers report are 127.0.0.1 as well). A subclass gets each default only
    where its `__init__` takes it (by name or through `**kwargs`)."""
    kwargs = dict(cluster_kwargs)
    if is_local_cluster(factory):
        defaults: dict[str, Any] = {}
        if "ip" not in kwargs:
            defaults.update(_LOCAL_DEFAULTS)
        if kwargs.get("processes", True) is False and "protocol" not in kwargs:
            defaults["protocol"] = "tcp://"
        if debug:
            defaults["silence_logs"] = logging.DEBUG
        for name, value in defaults.items():
            if name not in kwargs and _takes(factory, name):
                kwargs[name] = value
    return kwargs


def _takes(factory: ClusterFactory, name: str) -> bool:
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    if name in parameters:
        return parameters[name].kind is not inspect.Parameter.POSITIONAL_ONLY
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def uses_processes(factory: ClusterFactory, kwargs: Mapping[str, Any]) -> bool:
    """Whether the cluster will start worker processes here (any non-local class may)."""
    return not is_local_cluster(factory) or kwargs.get("processes", True) is not False


def create_cluster(
    factory: ClusterFactory,
    kwargs: Mapping[str, Any],
    adapt_kwargs: Mapping[str, Any] | None,
) -> Any:
    """Create the cluster, adaptive when `adapt_kwargs` is given.

    The scheduler of a cluster created here gives a task up as soon as the worker running it
    dies (rather than rerunning it elsewhere up to three times): whether a crashed task run
    runs again is for its own `retries` to say. Its worker processes leave Ctrl-C to the flow's
    process (`_worker_signals`).
    """
    description = describe(factory)
    from taskloom_dask import _worker_signals

    preloads = [*dask.config.get("distributed.worker.preload", []), _worker_signals.MODULE]
    settings = {
        "distributed.scheduler.allowed-failures": 0,
        # Read by each nanny as it is created, and given to every worker it starts.
        "distributed.worker.preload": preloads,
    }
    # Threads the cluster starts (its event loop, which starts worker processes) inherit the
    # blocked signals, and so do the processes: see `_worker_signals`.
    with dask.config.set(settings), signals_blocked():
        try:
            cluster = factory(**kwargs)
        except Exception as exc:
            message = f"Creating a Dask cluster with `{description}` failed: {_describe(exc)}"
            if uses_processes(factory, kwargs) and main_script_lacks_guard():
                message += f". {GUARD_HINT}"
            raise TaskRunnerError(message) from exc
    if adapt_kwargs is not None:
        try:
            adapting = cluster.adapt(**adapt_kwargs)
            if inspect.isawaitable(adapting):
                _wait_for(cluster, adapting)
        except Exception as exc:
            close_quietly(cluster)
            raise TaskRunnerError(
                f"Adaptive scaling of the `{description}` cluster with {dict(adapt_kwargs)!r} "
                f"failed: {type(exc).__name__}: {exc}"
            ) from exc
    return cluster


def _wait_for(cluster: Any, awaitable: Any) -> None:
    """Await what a cluster method returned, on the cluster's own event loop where it has one
    (its coroutines belong there), within `ADAPT_TIMEOUT`."""

    async def awaited() -> Any:
        return await asyncio.wait_for(awaitable, ADAPT_TIMEOUT)

    if callable(getattr(cluster, "sync", None)) and getattr(cluster, "loop", None) is not None:
        cluster.sync(awaited)
    else:
        asyncio.run(awaited())


def _describe(exc: BaseException) -> str:
    # The cause says more than "Cluster failed to start" when there is one.
    while exc.__cause__ is not None and str(exc).endswith("failed to start."):
        exc = exc.__cause__
    return f"{type(exc).__name__}: {exc}"


def close_quietly(cluster: Any) -> None:
    """Close a cluster on the way out of a failure, never hiding that failure."""
    try:
        cluster.close()
    except Exception:
        logging.getLogger("taskloom").debug("Closing the Dask cluster failed", exc_info=True)
