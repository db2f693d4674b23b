"""Without an address, a runner starts a local Ray for its flow run, on loopback, and stops it.

One flow run is observed for most tests here (a Ray start takes seconds): it starts a local Ray,
calls a subflow with a Ray runner of its own, and records what it saw along the way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import psutil
import pytest

import ray_runner_tasks as rt
from ray_clusters import is_loopback, listening_addresses
from taskloom import flow
from taskloom_ray import RayTaskRunner


@dataclass
class Observed:
    initialised_during: bool = False
    initialised_after_subflow: bool = False
    resources: dict[str, float] = field(default_factory=dict)
    node_address: str = ""
    addresses: set[str] = field(default_factory=set)
    ray_processes: list[psutil.Process] = field(default_factory=list)
    result: Any = None
    initialised_after: bool = True
    log: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def observed() -> Observed:
    import logging

    import ray

    assert not ray.is_initialized(), "a Ray from another module is still connected"
    seen = Observed()
    # Processes another module's fixtures left to their own teardown are not this Ray's.
    already_running = {child.pid for child in psutil.Process().children(recursive=True)}
    lines: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = lines.append  # type: ignore[method-assign,assignment]
    taskloom_logger = logging.getLogger("taskloom")
    taskloom_logger.addHandler(handler)

    @flow(task_runner=RayTaskRunner())
    def subflow() -> int:
        return rt.identity(1)  # type: ignore[no-any-return]

    @flow(task_runner=RayTaskRunner(init_kwargs={"num_cpus": 1, "resources": {"tl_probe": 3}}))
    def observing() -> int:
        seen.initialised_during = ray.is_initialized()
        seen.resources = ray.cluster_resources()
        seen.node_address = rt.node_address()
        from_subflow = subflow()
        seen.initialised_after_subflow = ray.is_initialized()
        seen.ray_processes = [
            child
            for child in psutil.Process().children(recursive=True)
            if child.pid not in already_running
        ]
        seen.addresses = listening_addresses([psutil.Process(), *seen.ray_processes])
        return from_subflow + rt.identity(1)  # type: ignore[no-any-return]

    try:
        seen.result = observing()
    finally:
        taskloom_logger.removeHandler(handler)
        seen.initialised_after = ray.is_initialized()
        seen.log = [record.getMessage() for record in lines]
    return seen


def test_a_runner_without_address_starts_a_local_ray(observed: Observed) -> None:
    assert observed.initialised_during
    assert "Creating a local Ray instance" in observed.log


def test_init_kwargs_are_passed_to_ray_init(observed: Observed) -> None:
    assert observed.resources["CPU"] == 1.0
    assert observed.resources["tl_probe"] == 3.0


def test_the_local_ray_is_shut_down_when_the_flow_run_ends(observed: Observed) -> None:
    assert not observed.initialised_after
    _, alive = psutil.wait_procs(observed.ray_processes, timeout=15)
    assert [(p.pid, p.cmdline()) for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []


def test_the_local_ray_listens_and_talks_on_loopback_only(observed: Observed) -> None:
    assert observed.ray_processes, "no Ray process was found"
    assert {a for a in observed.addresses if not is_loopback(a)} == set()


def test_the_local_ray_node_advertises_the_loopback_address(observed: Observed) -> None:
    assert observed.node_address == "127.0.0.1"


def test_a_subflows_ray_runner_joins_the_parents_ray_and_leaves_it_running(
    observed: Observed,
) -> None:
    assert observed.initialised_after_subflow
    assert observed.result == 2
    assert observed.log.count("Creating a local Ray instance") == 1


def test_a_ray_initialised_beforehand_is_used_and_left_running(
    taskloom_log: Any,
) -> None:
    import ray

    from taskloom_ray import _session

    assert not ray.is_initialized(), "a Ray from another module is still connected"
    # The application's own Ray (on loopback, as everything in these tests).
    with _session._cluster_mode_off(True):
        ray.init(address="local", num_cpus=1, _node_ip_address="127.0.0.1", include_dashboard=False)
    try:

        @flow(task_runner=RayTaskRunner())
        def uses_it() -> int:
            return rt.identity(os.getpid())  # type: ignore[no-any-return]

        assert uses_it() == os.getpid()
        assert ray.is_initialized()
        assert "Using the Ray instance already initialised in this process" in taskloom_log.messages
    finally:
        ray.shutdown()
