"""taskloom hooks of the Ray plugin: claiming `ray://` addresses. Cheap to import (no Ray)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskloom.hookspecs import hookimpl

if TYPE_CHECKING:
    from taskloom_ray._runner import RayTaskRunner


@hookimpl
def taskloom_resolve_task_runner(spec: str) -> RayTaskRunner | None:
    """A `RayTaskRunner` for a `ray://host:port` address; None for anything else."""
    if not spec.lower().startswith("ray://"):
        return None
    from taskloom_ray._runner import RayTaskRunner

    return RayTaskRunner(address=spec)


@hookimpl
def taskloom_address_schemes() -> list[str]:
    return ["ray://"]
