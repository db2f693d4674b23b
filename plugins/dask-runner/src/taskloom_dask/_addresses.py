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


def missing_tls_credentials(address: str, security: object) -> str | None:
    """Why a client cannot connect to the TLS scheduler at `address` with `security` (none
    given: the dask configuration's), or None when it has TLS credentials or needs none."""
    from distributed.security import Security

    if not address.lower().startswith("tls://"):
        return None
    if security is None:
        security = Security()  # what the client would take from the dask configuration
    if not isinstance(security, Security):
        return None  # `security=True` and the like: dask's own to judge
    if security.get_connection_args("client").get("ssl_context") is not None:
        return None
    return (
        f"Could not connect to the Dask scheduler at {address!r}: a tls:// scheduler takes only "
        "TLS connections, and this runner has no TLS credentials. Give them as "
        'client_kwargs={"security": distributed.security.Security(tls_ca_file=..., '
        "tls_client_cert=..., tls_client_key=..., require_encryption=True)}, or in the dask "
        "configuration (distributed.comm.tls.ca-file, distributed.comm.tls.client.cert and .key)."
    )


def reset_hint(address: str, error: BaseException) -> str:
    """What a plain connection reset at once most often means: a scheduler that takes only TLS
    (it drops a tcp:// client's first bytes). Empty for any other failure."""
    if not address.lower().startswith("tcp://") or "Connection reset by peer" not in str(error):
        return ""
    tls = "tls://" + address[len("tcp://") :]
    return (
        f". A scheduler that takes only TLS resets plain connections: if this one does, connect "
        f'to {tls!r} with TLS credentials (client_kwargs={{"security": ...}})'
    )
