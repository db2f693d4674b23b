"""The scheduler addresses a `task_runner=` string can name: `tcp://`, `tls://`, `dask://`,
and `host:port` without a scheme, which Dask reads as `tcp://host:port`."""

from __future__ import annotations

import re

#: `dask://host:port` is this plugin's alias for the scheduler's own `tcp://host:port`.
_ALIASES = {"dask://": "tcp://"}
#: `tls://` too: a TLS scheduler whose credentials the dask configuration holds.
_CLAIMED = ("tcp://", "tls://", *_ALIASES)
#: What the error for a scheme no runner takes offers instead (the core's message).
SCHEMES = ["tcp://", "tls://", "dask://"]
#: `host:port` (a name, an IPv4 address or a bracketed IPv6 one), as `dask scheduler` prints
#: it without its scheme.
_BARE = re.compile(r"^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):\d{1,5}$")


def scheduler_address(spec: str) -> str | None:
    """The scheduler address a `task_runner=` string names, or None if it names none."""
    lowered = spec.lower()
    for prefix in _CLAIMED:
        if lowered.startswith(prefix):
            rest = spec[len(prefix) :]
            if not rest or rest.startswith("/"):
                return None
            return _ALIASES.get(prefix, prefix) + rest
    if _BARE.match(spec):
        return "tcp://" + spec
    return None


def address_error(address: str) -> str | None:
    """Why Dask cannot connect to `address` whatever runs there (a scheme it has no transport
    for), naming the schemes it takes and the address meant; None when the form is fine."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        return None
    from distributed.comm.registry import backends

    if scheme.lower() in backends:
        return None
    accepted = ", ".join(f"{name}://" for name in sorted(backends))
    return (
        f"Dask cannot connect to {address!r}: it has no {scheme}:// transport (it takes "
        f"{accepted}, or host:port for tcp://). A scheduler started with `dask scheduler` "
        f"listens at {'tcp://' + rest.rstrip('/')!r}, port 8786 unless told otherwise."
    )
