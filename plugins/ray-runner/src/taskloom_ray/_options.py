"""`remote_options`: Ray task options for the submissions made inside a `with` block."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

# Options the runner sets itself: a task run always returns its (marker, value) pair.
_RESERVED = frozenset({"num_returns"})
#: Options Ray takes only in `ray.remote(...)`, never in `.options()`: a remote function is
#: built with them (see `split_options`).
REMOTE_ONLY = frozenset({"max_calls"})

_current: ContextVar[dict[str, Any] | None] = ContextVar("taskloom_ray_options", default=None)


@contextmanager
def remote_options(
    *,
    num_cpus: float | None = None,
    num_gpus: float | None = None,
    memory: float | None = None,
    resources: Mapping[str, float] | None = None,
    max_retries: int | None = None,
    **ray_options: Any,
) -> Iterator[None]:
    """Ray options for the task runs submitted inside the block (`submit`, `map`, calls).

        with remote_options(num_cpus=2, resources={"db": 1}):
            load.submit(table)

    `num_cpus`, `num_gpus`, `memory` (bytes) and `resources` say what each run reserves on a
    Ray node; `max_retries` lets Ray run a task again when its worker process dies (the default
    is 0: the run ends `Crashed`). Any other keyword is passed to Ray's `.options()` as given
    (`scheduling_strategy=...`, `runtime_env=...`); those Ray takes only in `ray.remote(...)`
    (`max_calls`) build a remote function of their own. Blocks nest: an inner block overrides the
    options it names and keeps the others. The options are read when a run is submitted, in
    the thread that submits it.
    """
    options: dict[str, Any] = {
        key: value
        for key, value in (
            ("num_cpus", num_cpus),
            ("num_gpus", num_gpus),
            ("memory", memory),
            ("resources", dict(resources) if resources is not None else None),
            ("max_retries", max_retries),
        )
        if value is not None
    }
    reserved = _RESERVED.intersection(ray_options)
    if reserved:
        raise TypeError(f"remote_options() does not take {', '.join(sorted(reserved))}")
    options.update(ray_options)
    token = _current.set({**(_current.get() or {}), **options})
    try:
        yield
    finally:
        _current.reset(token)


def current_options() -> dict[str, Any] | None:
    """The options of the innermost `remote_options` block, or None outside any."""
    return _current.get()


def split_options(
    options: Mapping[str, Any] | None,
) -> tuple[tuple[tuple[str, Any], ...], dict[str, Any]]:
    """`options` as (the `ray.remote`-only ones, sorted into a key; the `.options()` ones)."""
    if not options:
        return (), {}
    remote_only = tuple(sorted((k, v) for k, v in options.items() if k in REMOTE_ONLY))
    return remote_only, {k: v for k, v in options.items() if k not in REMOTE_ONLY}
