"""The scheduler addresses a `task_runner=` string can name: `tcp://`, `tls://`, `dask://`."""

from __future__ import annotations

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
