"""Processes on the namespace hosts: their environment, and the flow script run there."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import taskloom
from netns_hosts import Host

HERE = Path(__file__).parent
FLOWS = HERE / "cluster_flows.py"


def cluster_env(**extra: str) -> dict[str, str]:
    """The environment of every process on the hosts: the taskloom under test and this folder
    importable, output unbuffered, no taskloom setting of the test's own."""
    paths = [str(Path(taskloom.__file__).resolve().parents[1]), str(HERE)]
    paths += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKLOOM_")}
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(str(Path(p).resolve()) for p in paths))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class FlowRun:
    returncode: int
    output: str
    result: dict[str, Any] | None


#: How long before its time limit a flow script run by `run_flow` writes its threads' stacks.
STACKS_BEFORE_LIMIT = 5.0


def run_flow(host: Host, args: list[str], env: dict[str, str], timeout: float) -> FlowRun:
    """Run `cluster_flows.py ARGS` in `host` to its end, bounded by `timeout` seconds; one still
    running then fails the test with the end of its output and its threads' stacks."""
    with tempfile.TemporaryDirectory(prefix="tlstacks-") as folder:
        stacks = Path(folder) / "stacks.txt"
        env = {
            **env,
            "CLUSTER_FLOW_STACKS_AFTER": str(max(1.0, timeout - STACKS_BEFORE_LIMIT)),
            "CLUSTER_FLOW_STACKS_FILE": str(stacks),
        }
        try:
            done = host.run([sys.executable, str(FLOWS), *args], env, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            output = _text(exc.stdout) + _text(exc.stderr)
            where = stacks.read_text() if stacks.exists() else "(none written)"
            raise AssertionError(
                f"cluster_flows.py {' '.join(args)} was still running after {timeout:g} s; "
                f"the end of its output:\n{output[-4000:]}\nits threads' stacks:\n{where}"
            ) from None
    output = done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1]) if done.returncode == 0 and lines else None
    return FlowRun(done.returncode, output, result)


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def start_flow(host: Host, args: list[str], env: dict[str, str], log: Path) -> Any:
    """Start `cluster_flows.py ARGS` in `host`; its output goes to `log`."""
    return host.popen([sys.executable, str(FLOWS), *args], env, log)


def read_result(log: Path) -> dict[str, Any]:
    lines = log.read_text().strip().splitlines()
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def wait_for_file(path: Path, process: Any, timeout: float) -> None:
    """Wait until `path` exists (at most `timeout` seconds, and while `process` runs)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise RuntimeError(f"the flow ended before writing {path.name}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path.name} not written in {timeout:g} s")
        time.sleep(0.02)


@dataclass
class LostHost:
    """A map during which a worker host was killed: what the flow saw, and when."""

    result: dict[str, Any]
    killed_at: float

    @property
    def seconds_to_complete(self) -> float:
        return float(self.result["end"]) - self.killed_at


def lose_a_host_mid_map(
    flow_host: Host, victim: Host, env: dict[str, str], folder: Path, n: int, delay: float
) -> LostHost:
    """Run the `lost` flow on `flow_host`; once a quarter of its map has completed, kill every
    process of `victim`. Bounded: the flow has 120 s to end."""
    marker, log = folder / "quarter-done.json", folder / "lost-flow.log"
    process = start_flow(flow_host, ["lost", str(n), str(delay), str(marker)], env, log)
    try:
        wait_for_file(marker, process, timeout=90)
        killed_at = time.time()
        victim.kill_all()
        marker.with_name(marker.name + ".killed").write_text("")
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    if process.returncode != 0:
        raise AssertionError(f"the flow failed:\n{log.read_text()[-6000:]}")
    return LostHost(read_result(log), killed_at)


@dataclass
class CutRun:
    """A flow run during which its host's cable was out for a while."""

    returncode: int | None  # None: it was still running at the bound, and was killed
    output: str
    seconds: float

    @property
    def result(self) -> dict[str, Any] | None:
        lines = self.output.strip().splitlines()
        return json.loads(lines[-1]) if self.returncode == 0 and lines else None


def cut_the_cable_mid_run(
    flow_host: Host,
    env: dict[str, str],
    folder: Path,
    args: list[str],
    out_for: float = 5.0,
    bound: float = 120.0,
) -> CutRun:
    """Run the `cut` flow (ARGS after its name) on `flow_host`; once its runs are submitted,
    take the host's link down for `out_for` seconds, then up again. The flow has `bound`
    seconds from its start to end, after which it is killed (and `returncode` is None)."""
    marker, log = folder / "submitted", folder / "cut-flow.log"
    start = time.monotonic()
    process = start_flow(flow_host, ["cut", *args, str(marker)], env, log)
    try:
        wait_for_file(marker, process, timeout=90)
        flow_host.link(up=False)
        try:
            time.sleep(out_for)
        finally:
            flow_host.link(up=True)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(1.0, bound - (time.monotonic() - start)))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
            returncode = None
        else:
            returncode = process.returncode
    return CutRun(returncode, log.read_text(), time.monotonic() - start)
