"""The flows the cluster tests run, as a user's script: `python cluster_flows.py WHAT [ARGS]`.

Run in host D with `TASKLOOM_TASK_RUNNER` naming the cluster (or unset, for the local run the
results are compared with). Every flow takes its runner from that variable, as a flow written
without `task_runner=` does. The last line printed is a JSON object of what was observed. With
`CLUSTER_FLOW_STACKS_AFTER=SECONDS` and `CLUSTER_FLOW_STACKS_FILE=PATH`, a script still running
after that long writes every thread's stack to PATH (so a test that gives up on it can say where
it was).

- `readme`: the README's first flow (greetings mapped over names).
- `map N DELAY`: N runs of `square` (each sleeping DELAY seconds), their values and the hosts
  they ran on.
- `lost N DELAY MARKER`: the same map; once a quarter of it has completed, the names of the
  completed runs are written to MARKER (the test then kills a host, and says so with the file
  MARKER.killed), and at the end the final state of every run and of the flow.
- `tls N DELAY CA CERT KEY`: the map of `map`, on the Dask cluster at `TASKLOOM_TASK_RUNNER`
  reached over TLS with these credentials, given as `client_kwargs={"security": ...}`.
- `cut N DELAY MARKER`: the map in a flow with a timeout of 60 s; MARKER is written once the
  runs are submitted (the test then pulls this host's cable for 5 s).
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import taskloom
from taskloom import flow, get_run_logger, task

RAY = os.environ.get("TASKLOOM_TASK_RUNNER", "").startswith("ray://")


def where() -> str:
    """The host a task runs on: its worker's IP address (Dask), its node's (Ray), else local."""
    try:
        import distributed

        return str(distributed.get_worker().address).split("://")[1].rsplit(":", 1)[0]
    except (ImportError, ValueError):
        pass
    try:
        import ray

        if ray.is_initialized():
            return str(ray.util.get_node_ip_address())
    except ImportError:
        pass
    return "local"


def node_id() -> str | None:
    try:
        import ray

        return str(ray.get_runtime_context().get_node_id()) if ray.is_initialized() else None
    except ImportError:
        return None


@task
def hello(name: str) -> str:
    return f"Hello {name}!"


@flow
def my_flow(names: list[str]) -> list[str]:
    get_run_logger().info("greeting %d people", len(names))
    return [f.result() for f in hello.map(names)]


@task
def square(x: int, delay: float) -> tuple[int, str, str | None]:
    time.sleep(delay)
    return x * x, where(), node_id()


def retried() -> Any:
    """Ray runs a task again when its worker dies only if told so (`max_retries`)."""
    import contextlib

    if not RAY:
        return contextlib.nullcontext()
    from taskloom_ray import remote_options

    return remote_options(max_retries=3)


@flow
def squares(n: int, delay: float) -> list[tuple[int, str, str | None]]:
    with retried():
        futures = square.map(range(n), taskloom.unmapped(delay))
    return futures.result()  # type: ignore[no-any-return]


def over_tls(ca: str, cert: str, key: str) -> Any:
    from distributed.security import Security

    from taskloom_dask import DaskTaskRunner

    security = Security(
        tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True
    )
    runner = DaskTaskRunner(
        address=os.environ["TASKLOOM_TASK_RUNNER"], client_kwargs={"security": security}
    )
    return squares.with_options(task_runner=runner)


def run_lost(n: int, delay: float, marker: Path) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    @flow
    def survives_a_lost_host() -> None:
        with retried():
            futures = square.map(range(n), taskloom.unmapped(delay))
        done_before = []
        for count, _ in enumerate(taskloom.as_completed(futures), start=1):
            if count == n // 4:
                done_before = [f.task_run_name for f in futures if f.state.is_completed()]
                marker.write_text(json.dumps(done_before))
                seen["unfinished_when_killed"] = unfinished_once_killed(futures, marker)
        by_name = {f.task_run_name: f for f in futures}
        seen["values"] = [f.result()[0] for f in futures]
        seen["hosts"] = Counter(f.result()[1] for f in futures)
        seen["completed_before"] = done_before
        seen["completed_before_now"] = Counter(by_name[name].state.name for name in done_before)
        seen["final_states"] = Counter(f.state.name for f in futures)
        seen["end"] = time.time()

    state = survives_a_lost_host(return_state=True)
    seen["flow_state"] = repr(state)
    return seen


def unfinished_once_killed(futures: list[Any], marker: Path) -> int:
    """How many of `futures` are still unfinished once the test has killed the host (it says
    so with a file beside `marker`); waits 30 s at the most."""
    killed = marker.with_name(marker.name + ".killed")
    deadline = time.monotonic() + 30
    while not killed.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return sum(not f.done() for f in futures)


def run_cut(n: int, delay: float, marker: Path) -> dict[str, Any]:
    @flow(timeout_seconds=60)
    def through_a_cut() -> list[int]:
        futures = square.map(range(n), taskloom.unmapped(delay))
        marker.write_text("submitted")
        return [f.result()[0] for f in futures]

    return {"values": through_a_cut()}


def main(argv: list[str]) -> dict[str, Any]:
    what, args = argv[0], argv[1:]
    if what == "readme":
        return {"greetings": my_flow(["a", "b", "c"])}
    n, delay = int(args[0]), float(args[1])
    if what in ("map", "tls"):
        start = time.monotonic()
        results = (squares if what == "map" else over_tls(*args[2:5]))(n, delay)
        return {
            "seconds": time.monotonic() - start,
            "values": [value for value, _, _ in results],
            "hosts": Counter(host for _, host, _ in results),
            "nodes": sorted({node for _, _, node in results if node}),
        }
    if what == "lost":
        return run_lost(n, delay, Path(args[2]))
    if what == "cut":
        return run_cut(n, delay, Path(args[2]))
    raise SystemExit(f"unknown flow {what!r}")


if __name__ == "__main__":
    if stacks_after := os.environ.get("CLUSTER_FLOW_STACKS_AFTER"):
        # Open while the script runs: faulthandler writes to it from its own thread.
        stacks = open(os.environ["CLUSTER_FLOW_STACKS_FILE"], "w")  # noqa: SIM115
        faulthandler.dump_traceback_later(float(stacks_after), file=stacks)
    print(json.dumps(main(sys.argv[1:])))
