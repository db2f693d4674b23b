"""The runners the stress harness runs its scenarios on, as `tests.stress.runners:NAME`.

Each has fewer slots than the 8 tasks that wait at once in the `nested` scenario, so that a
wait holding its slot would deadlock there. Each imports its plugin only when called: a
package's stress session has only that package installed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable

from taskloom.task_runners import TaskRunner

SLOTS = 2


def sequential() -> TaskRunner:
    from taskloom_local import SequentialTaskRunner

    return SequentialTaskRunner()


def concurrent() -> TaskRunner:
    from taskloom_local import ConcurrentTaskRunner

    return ConcurrentTaskRunner(max_workers=SLOTS)


def processes() -> TaskRunner:
    from taskloom_local import ProcessPoolTaskRunner

    return ProcessPoolTaskRunner(max_workers=SLOTS)


def local_dask_threads() -> TaskRunner:
    from taskloom_dask import LocalDaskTaskRunner

    return LocalDaskTaskRunner("threads", num_workers=SLOTS)


def local_dask_synchronous() -> TaskRunner:
    from taskloom_dask import LocalDaskTaskRunner

    return LocalDaskTaskRunner("synchronous")


def local_dask_processes() -> TaskRunner:
    from taskloom_dask import LocalDaskTaskRunner

    return LocalDaskTaskRunner("processes", num_workers=SLOTS)


def dask() -> TaskRunner:
    """A temporary `LocalCluster` for each flow run: 2 worker processes of 1 thread, no
    dashboard (so batches running side by side do not compete for its port)."""
    from taskloom_dask import DaskTaskRunner

    return DaskTaskRunner(
        cluster_kwargs={"n_workers": SLOTS, "threads_per_worker": 1, "dashboard_address": None}
    )


# Ray 2.60 enables token authentication on every local Ray it starts and, finding no token,
# writes one to ~/.ray: the harness brings its own.
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(16))


def ray() -> TaskRunner:
    from taskloom_ray import RayTaskRunner

    return RayTaskRunner(init_kwargs={"num_cpus": SLOTS, "include_dashboard": False})


def limited_threads() -> TaskRunner:
    from limited_threads import LimitedThreadTaskRunner

    return LimitedThreadTaskRunner(max_workers=SLOTS)


def shared_ray() -> Callable[[], None]:
    """The `--setup` for Ray: one local Ray per batch process, which every run's runner joins
    (a local Ray takes seconds to start); shut down after the batch."""
    keeper = ray()
    keeper.start()
    return keeper.shutdown
