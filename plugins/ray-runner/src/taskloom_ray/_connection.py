"""Connecting this process to a Ray cluster: fail fast when nothing answers, retry what Ray Client
gets wrong now and then, and never wait forever for a connection to be set up.

Ray Client (`ray://` addresses) sets a connection up in two steps: its proxy on the head node
answers at once, then starts a server process for this connection, which joins the cluster; the
client waits for that server's answer without a time limit. A head whose GCS does not answer
(overloaded, stopped, restarting) leaves that server waiting, and the client with it, forever.
So the setup is watched: past `CLIENT_SETUP_SECONDS` the connection is given up (its channel
closed, which makes Ray raise in the waiting thread) and tried once more, with a new server.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Mapping
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from taskloom.exceptions import TaskRunnerError
from taskloom.task_runners import logger

#: Ray Client's default port, used when a `ray://` address names none.
CLIENT_PORT = 10001
#: How long a `ray://` address may take to accept a connection before it counts as unreachable.
CONNECT_TIMEOUT = 5.0
#: How many times a connection is tried when Ray Client's proxy fails to start its server.
CONNECT_ATTEMPTS = 3
#: How long Ray Client may take to set a connection up once its proxy answered. Set up takes
#: 1-2 s on an idle 2-core machine; Ray's proxy gives the server it starts 30 s to answer
#: before reporting a failure of its own, which this leaves time for.
CLIENT_SETUP_SECONDS = 45.0
#: How many times a connection whose setup stalled is tried.
SETUP_ATTEMPTS = 2
#: Ray's default for how long a runtime environment may take to be set up (its
#: `setup_timeout_seconds`), which happens during Ray Client's setup.
RUNTIME_ENV_SETUP_SECONDS = 600.0
# What Ray Client says when its proxy's server failed. The proxy starts a server process per
# connection, forking while gRPC threads run; now and then (on a busy machine) that process
# dies at once. The proxy reports it as a failed start, or, when it looks at the process just as
# it dies, passes on psutil's error about the dead process. Another connection gets another one.
_CLIENT_SERVER_FAILURES = (
    "Starting Ray client server failed",
    "ZombieProcess",
    "NoSuchProcess",
)
_CLIENT_HINT = 'pip install "ray[client]"'


def connect(ray: ModuleType, address: str, init_kwargs: Mapping[str, Any]) -> Any:
    """`ray.init(address, **init_kwargs)`, or a `TaskRunnerError` that names `address`."""
    client = address.startswith("ray://")
    if client:
        import importlib.util

        if importlib.util.find_spec("grpc") is None:
            raise TaskRunnerError(
                f"Connecting to {address} needs Ray Client, which is not installed: {_CLIENT_HINT}"
            )
    check_reachable(address)
    setup_seconds = client_setup_seconds(init_kwargs) if client else None
    failed_starts = stalls = 0
    while True:
        watch = _SetupWatch(setup_seconds)
        error: Exception | None = None
        try:
            context = ray.init(address=address, **init_kwargs)
        except Exception as exc:
            error = exc
        finally:
            stalled = watch.end()
        if error is not None or stalled:
            # A connection given up just as it was set up has its channel closed: no use either.
            with contextlib.suppress(Exception):
                ray.shutdown()
        if not stalled:
            if error is None:
                return context
            failed_starts += 1
            if _client_server_failed(error) and failed_starts < CONNECT_ATTEMPTS:
                logger.warning(
                    "The Ray Client server at %s failed to start a server for this "
                    "connection; connecting again",
                    address,
                )
                continue
            raise TaskRunnerError(
                f"Could not connect to the Ray cluster at {address}: "
                f"{type(error).__name__}: {error}"
            ) from error
        stalls += 1
        if stalls >= SETUP_ATTEMPTS:
            raise TaskRunnerError(
                f"Could not connect to the Ray cluster at {address}: it accepted the connection "
                f"but did not finish setting it up within {setup_seconds:g} seconds "
                f"({_attempts(stalls)}; is its head node's GCS running and answering?)"
            )
        logger.warning(
            "The Ray cluster at %s did not finish setting up this connection within %g "
            "seconds; connecting again",
            address,
            setup_seconds,
        )


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


def client_setup_seconds(init_kwargs: Mapping[str, Any]) -> float | None:
    """How long Ray Client may take to set up a connection made with `init_kwargs` (None: no
    limit). A runtime environment is set up meanwhile: Ray's limit for that comes on top."""
    runtime_env = init_kwargs.get("runtime_env")
    if runtime_env is None:
        runtime_env = getattr(init_kwargs.get("job_config"), "runtime_env", None)
    if runtime_env is None and os.environ.get("RAY_RUNTIME_ENV"):
        # Ray Client takes a runtime environment from there when none is given.
        with contextlib.suppress(ValueError):
            runtime_env = json.loads(os.environ["RAY_RUNTIME_ENV"])
    if not runtime_env:
        return CLIENT_SETUP_SECONDS
    config = runtime_env.get("config") if isinstance(runtime_env, Mapping) else None
    setup = (config or {}).get("setup_timeout_seconds", RUNTIME_ENV_SETUP_SECONDS)
    if setup == -1:  # the runtime environment's own "no limit"
        return None
    return float(setup) + CLIENT_SETUP_SECONDS


class _SetupWatch:
    """Gives up the Ray Client connection being set up in this process once `seconds` pass.

    `end()` says whether it did, also when the setup ended just then.
    """

    #: How often giving up is tried again while Ray Client has no connection to give up yet
    #: (it is still reaching the proxy, which it gives up on by itself).
    RETRY_SECONDS = 0.5

    def __init__(self, seconds: float | None) -> None:
        self._lock = threading.Lock()
        self._ended = threading.Event()
        self._gave_up = False
        if seconds is not None:
            name = "taskloom_ray.client_setup_watch"
            threading.Thread(target=self._watch, args=(seconds,), name=name, daemon=True).start()

    def end(self) -> bool:
        with self._lock:
            self._ended.set()
            return self._gave_up

    def _watch(self, seconds: float) -> None:
        wait = seconds
        while not self._ended.wait(wait):
            with self._lock:
                if self._ended.is_set():
                    return
                if _give_up_client_setup():
                    self._gave_up = True
                    return
            wait = self.RETRY_SECONDS


def _give_up_client_setup() -> bool:
    """Make the Ray Client connection being set up in this process fail; False if there is
    none yet. Closing its channel ends the requests it waits on; marking it as shutting down
    first keeps Ray Client from reconnecting to the same stalled server instead of raising."""
    try:
        from ray.util.client import ray as client_api

        worker = client_api.get_context().client_worker  # type: ignore[no-untyped-call]
        channel = getattr(worker, "channel", None)
        if channel is None:
            return False
        worker._in_shutdown = True
        channel.close()
    except Exception:  # a Ray Client whose internals moved: nothing to give up this way
        logger.debug("Could not give up a stalled Ray Client connection", exc_info=True)
        return False
    return True


def _client_server_failed(exc: BaseException) -> bool:
    message = str(exc)
    return any(failure in message for failure in _CLIENT_SERVER_FAILURES)


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Fail fast, naming `address`, when no Ray answers there or it turns this process away.

    Ray Client retries for half a minute before it gives up on an address, whatever the
    reason; a plain connection and one ping say at once what is wrong.
    """
    host, port = host_and_port(address)
    if host is None:
        return
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
        raise TaskRunnerError(f"The Ray cluster at {address} is unreachable: {reason}") from None
    if address.startswith("ray://"):
        _ping_client_server(address, f"{host}:{port}", timeout)


def _ping_client_server(address: str, target: str, timeout: float) -> None:
    """Ping the Ray Client server at `target` the way Ray Client does before connecting."""
    try:
        import grpc
        from ray._private.grpc_utils import init_grpc_channel
        from ray.core.generated import ray_client_pb2, ray_client_pb2_grpc

        client_pb2: Any = ray_client_pb2  # generated code, untyped
        client_grpc: Any = ray_client_pb2_grpc
    except ImportError:  # a Ray whose internals moved: let `ray.init` find out
        return
    # Ray's own channel: it carries the authentication token when token auth is enabled.
    channel = init_grpc_channel(target, options=[], asynchronous=False)
    try:
        stub = client_grpc.RayletDriverStub(channel)
        request = client_pb2.ClusterInfoRequest(type=client_pb2.ClusterInfoType.PING)
        stub.ClusterInfo(request, timeout=timeout, wait_for_ready=True)
    except grpc.RpcError as exc:
        code, details = exc.code(), exc.details()
        if code == grpc.StatusCode.UNAUTHENTICATED:
            raise TaskRunnerError(
                f"The Ray cluster at {address} requires token authentication and refused this "
                f"process ({details}): set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or "
                "RAY_AUTH_TOKEN_PATH) to the cluster's token"
            ) from None
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            reason = f"no answer within {timeout:g} seconds"
        else:
            reason = f"{code.name}: {details}" if details else code.name
        raise TaskRunnerError(
            f"The Ray cluster at {address} did not answer as a Ray Client server ({reason})"
        ) from None
    finally:
        channel.close()


def host_and_port(address: str) -> tuple[str | None, int]:
    if address in ("auto", "local"):
        return None, 0
    parts = urlsplit(address if "://" in address else f"//{address}")
    try:
        port = parts.port
    except ValueError:
        raise TaskRunnerError(f"Invalid Ray address {address!r}: bad port") from None
    if not parts.hostname:
        raise TaskRunnerError(f"Invalid Ray address {address!r}: it names no host")
    return parts.hostname, port if port is not None else CLIENT_PORT
