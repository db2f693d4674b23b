"""Ray for the tests: local instances and real `ray start --head` clusters, all on 127.0.0.1.

Ray starts slowly and the machine is small, so a module shares one Ray where its tests allow:
`local_ray` keeps a runner-started local instance up for the module (runners of the tests join
it), and the cluster modules keep their clusters (`ray_clusters.ray_cluster_running`) up for the
module. Every process a test starts is stopped by the fixture that started it.

Under xdist a module's tests may run on two workers, each starting its own Ray (for its part of
the module): the tests hold either way, and clusters take turns across processes (see
`ray_clusters`).
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskloom_ray import RayTaskRunner

HERE = Path(__file__).parent
# Tasks live in `ray_runner_tasks`, beside this file: Ray workers load them by module name. The
# workers of a local Ray inherit the environment of the process that started it, not its path.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
os.environ["PYTHONPATH"] = os.pathsep.join(
    dict.fromkeys(
        [str(HERE), *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
    )
)

# Ray 2.60 enables token authentication on every local instance it starts and, finding no
# token, writes one to ~/.ray: the tests bring their own instead.
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(16))


RAY_TEST_TIMEOUT = 300


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Ray's driver side leaves text-mode pipes of its own for the garbage collector to close,
    # at a moment that depends on the collector: under `filterwarnings = error` each one would
    # fail whichever test happens to be running. Only those warnings are let through.
    for item in items:
        if Path(item.path).is_relative_to(HERE):
            item.add_marker(pytest.mark.filterwarnings("ignore:unclosed file:ResourceWarning"))
            # A module's first test starts its Ray (a `ray start` cluster takes a minute or two
            # on a busy machine); the others' own limit is the project's.
            item.add_marker(pytest.mark.timeout(RAY_TEST_TIMEOUT))


@pytest.fixture(scope="module")
def local_ray() -> Iterator[RayTaskRunner]:
    """A local Ray with 4 CPUs and 2 of the custom resource `tl_test`, up for the module.

    Started by a runner, so the runners of the tests join it; its workers are warmed up, so
    that tests timing concurrent runs do not wait for worker processes to start.
    """
    import ray

    assert not ray.is_initialized(), "a Ray from another module is still connected"
    runner = RayTaskRunner(
        init_kwargs={
            "num_cpus": 4,
            "resources": {"tl_test": 2},
            "include_dashboard": False,
        }
    )
    runner.start()
    try:

        @ray.remote
        def warm_up() -> None:
            time.sleep(0.2)

        ray.get([warm_up.remote() for _ in range(4)])
        yield runner
    finally:
        runner.shutdown()
