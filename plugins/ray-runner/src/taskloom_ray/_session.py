"""The process's Ray: importing it, starting a local instance on loopback, connecting to one
(`_connection`).

Ray allows one connection per process, so the runners of a process share it: the first runner
that needs Ray starts (or connects) it, later runners (subflows, flows in other threads) join
(one given no address joins whatever Ray that is; one given another address is refused),
and the last one to leave shuts down what runners started. A Ray the application initialised
itself is used as it is and never shut down.

A runner's shutdown is: stop taking runs, `drain` (wait until the runs it sent have ended; after
an interruption, `cancel` stopped them first), then `leave`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from taskloom.exceptions import TaskRunnerError
from taskloom.task_runners import logger
from taskloom_ray._connection import connect

LOOPBACK = "127.0.0.1"
#: How long shutdown waits for interrupted runs to end before it leaves Ray regardless.
DRAIN_AFTER_CANCEL = 5.0
#: How long shutdown waits for runs still going after a normal flow run end (the engine waited
#: for every run it submitted, so this is only ever reached by runs nobody waited for).
DRAIN_TIMEOUT = 60.0

_INSTALL_HINT = "pip install taskloom-ray"
# On Linux, Ray swaps a loopback node address for the machine's address (so other nodes can
# join) unless "cluster mode" is off, which is what this variable (meant for macOS and Windows)
# does. Its processes then listen on 127.0.0.1 only.
_CLUSTER_MODE_VARIABLE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def import_ray() -> ModuleType:
    """`ray`, or a `TaskRunnerError` with the command that installs it."""
    try:
        import ray
    except ImportError as exc:
        raise TaskRunnerError(
            f"RayTaskRunner needs Ray, which is not installed ({exc}): {_INSTALL_HINT}"
        ) from None
    return ray


@dataclass
class _Session:
    """A Ray that runners of this process started or connected to."""

    address: str | None
    dashboard_url: str | None
    #: whether Ray copies what workers print to this process (`log_to_driver`)
    copies_output: bool
    users: int = 1


_lock = threading.Lock()
_session: _Session | None = None
#: Counts the times runners changed this process's Ray connection (see `_remote`).
generation = 0


def join(address: str | None, init_kwargs: Mapping[str, Any]) -> bool:
    """Make sure the process has the Ray that `address` means; True if this call joined one
    that runners own (and so must `leave` it), False if it uses the application's own Ray."""
    global _session, generation
    ray = import_ray()
    with _lock:
        session = _session
        if session is not None and ray.is_initialized():
            # A runner given no address (a subflow's `RayTaskRunner()`) runs on the Ray the
            # process's runners are on, a cluster they connected to included.
            if address is not None and session.address != address:
                running = session.address or "a local Ray instance"
                raise TaskRunnerError(
                    f"This process is already connected to {running}; a RayTaskRunner for "
                    f"{address or 'a local Ray instance'} cannot run beside it (Ray allows one "
                    "connection per process)"
                )
            session.users += 1
            _log_dashboard(session.dashboard_url)
            return True
        _session = None
        if ray.is_initialized():
            if address is not None:
                raise TaskRunnerError(
                    f"Ray is already initialised in this process, so RayTaskRunner cannot "
                    f"connect to {address}; use RayTaskRunner() to run on the Ray already "
                    "initialised"
                )
            logger.info("Using the Ray instance already initialised in this process")
            return False
        with _ray_signal_handlers_undone():
            if address is None:
                logger.info("Creating a local Ray instance")
                context = _start_local(ray, init_kwargs)
            else:
                logger.info("Connecting to the Ray cluster at %s", address)
                context = connect(ray, address, init_kwargs)
        generation += 1
        url = _dashboard_url(context)
        _session = _Session(address, url, bool(init_kwargs.get("log_to_driver", True)))
        _log_dashboard(url)
        return True


def cancel(markers: Sequence[Any]) -> None:
    """Cancel the runs of `markers` that have not finished, and the runs they submitted:
    queued ones never start, running ones stop at once.

    Forcefully: Ray stops a running task otherwise by raising `KeyboardInterrupt` in it, which
    waits for the task's next Python instruction (a task in `time.sleep` or in C code goes on).
    Ray then ends the worker process that ran it and starts another when needed.
    """
    ray = _session_ray()
    if not markers or ray is None:
        return
    try:
        _, unfinished = ray.wait(
            list(markers), num_returns=len(markers), timeout=0, fetch_local=False
        )
    except Exception as exc:  # Ray already gone: nothing left to cancel
        logger.debug("Could not list the unfinished Ray task runs: %s", exc)
        return
    for marker in unfinished:
        with contextlib.suppress(Exception):
            ray.cancel(marker, force=True, recursive=True)


def drain(markers: Sequence[Any], timeout: float | None) -> None:
    """Wait, at most `timeout` seconds (`DRAIN_TIMEOUT` for None), until the runs of `markers`
    have ended, without fetching anything; log those that had not by then.

    Leaving Ray while runs are going would cut them off (a temporary Ray is shut down, and on a
    cluster a job's tasks end with its driver), and their errors would surface as noise from
    Ray's shutdown rather than as the runs' states.
    """
    ray = _session_ray()
    if not markers or ray is None:
        return
    patience = DRAIN_TIMEOUT if timeout is None else timeout
    try:
        _, unfinished = ray.wait(
            list(markers), num_returns=len(markers), timeout=patience, fetch_local=False
        )
    except Exception as exc:
        logger.debug("Waiting for the Ray task runs to end failed: %s", exc)
        return
    if unfinished:
        logger.warning(
            "%d Ray task run(s) had not ended %g second(s) into shutdown; leaving them to Ray",
            len(unfinished),
            patience,
        )


def _session_ray() -> ModuleType | None:
    """`ray` when it is imported and initialised in this process, else None."""
    import sys

    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    return ray


def leave() -> None:
    """One runner fewer on the runners' Ray; the last one shuts it down (or disconnects)."""
    global _session, generation
    with _lock:
        session = _session
        if session is None:
            return
        session.users -= 1
        if session.users > 0:
            return
        _session = None
        generation += 1
        import ray

        if session.address is None and session.copies_output:
            _wait_for_worker_output()
        ray.shutdown()


def _wait_for_worker_output(quiet: float = 0.5, limit: float = 3.0) -> None:
    """Wait until the workers' output has stopped arriving, `quiet` seconds at least.

    Ray copies what workers print to this process asynchronously (files, a log monitor polling
    them, the GCS): a Ray shut down right after its last task would drop what that task printed.
    """
    from ray._private import worker

    # Where Ray hands the copied lines to this process's stdout and stderr.
    dispatcher = getattr(worker, "global_worker_stdstream_dispatcher", None)
    if dispatcher is None:
        time.sleep(quiet)
        return
    last = [time.monotonic()]

    def arrived(_: Any) -> None:
        last[0] = time.monotonic()

    name = "taskloom_ray.wait_for_worker_output"
    dispatcher.add_handler(name, arrived)
    try:
        deadline = last[0] + limit
        while (now := time.monotonic()) < deadline and now - last[0] < quiet:
            time.sleep(min(quiet - (now - last[0]), deadline - now))
    finally:
        dispatcher.remove_handler(name)


def _start_local(ray: ModuleType, init_kwargs: Mapping[str, Any]) -> Any:
    kwargs: dict[str, Any] = {
        "address": "local",
        "_node_ip_address": LOOPBACK,
        "dashboard_host": LOOPBACK,
        **init_kwargs,
    }
    loopback = str(kwargs.get("_node_ip_address")) in _LOOPBACK_NAMES
    with _cluster_mode_off(loopback):
        try:
            return ray.init(**kwargs)
        except Exception as exc:
            raise TaskRunnerError(
                f"A local Ray instance could not be started: {type(exc).__name__}: {exc}"
            ) from exc


@contextlib.contextmanager
def _cluster_mode_off(loopback: bool) -> Iterator[None]:
    """Keep Ray on the loopback address while it starts (see `_CLUSTER_MODE_VARIABLE`)."""
    if not loopback:
        yield
        return
    from ray._private import ray_constants

    saved_flag = ray_constants.ENABLE_RAY_CLUSTER
    saved_variable = os.environ.get(_CLUSTER_MODE_VARIABLE)
    ray_constants.ENABLE_RAY_CLUSTER = False
    # Ray's own Python processes (agents, workers) read it from their environment.
    os.environ[_CLUSTER_MODE_VARIABLE] = "0"
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag
        if saved_variable is None:
            os.environ.pop(_CLUSTER_MODE_VARIABLE, None)
        else:
            os.environ[_CLUSTER_MODE_VARIABLE] = saved_variable


@contextlib.contextmanager
def _ray_signal_handlers_undone() -> Iterator[None]:
    """`ray.init` replaces the SIGTERM handler; keep the flow's, which shuts runners down."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if saved is not None:
            signal.signal(signal.SIGTERM, saved)


def _dashboard_url(context: Any) -> str | None:
    url = getattr(context, "dashboard_url", None)
    if not url:
        return None
    return str(url) if "://" in str(url) else f"http://{url}"


def _log_dashboard(url: str | None) -> None:
    if url:
        logger.info("The Ray dashboard is available at %s", url)
