"""Task runners: the base class, the toolkit runner plugins are written with, and every
installed runner class by name.

A runner plugin imports only from here (and `taskloom.futures`, `taskloom.states`,
`taskloom.exceptions`); see docs/writing-a-runner.md:

- `TaskRunner`, the base class; `TaskCall`, what `submit` receives (`call.fields()` and
  `TaskCall.from_fields(...)`, a `CallFields` tuple, rebuild it in a worker); `TaskloomFuture`
  and `FinishedFuture`, what it returns;
- `when_final(upstream, start)`: start a run once its upstream runs are final;
- `run_batch(calls)` / `batch_outcome_state(outcome)`: the calls of a batched map run as one
  engine task, and each one's state read back (`auto_batch_size` is what `"auto"` picks);
- `Backlog`: runs held while the engine is saturated, sent on in groups of short runs as its
  submissions return (an engine whose cost per task is the flow process's CPU);
- `unstarted_upstream_first(...)`: the runs a waiting worker can run itself, in order;
- `ThreadCalls`: run calls on the runner's threads so that a cancelled flow can stop them;
- `signals_blocked()` and `leave_signals_to_the_flow()`: worker processes that leave Ctrl-C
  and SIGTERM to the flow's process;
- `dumps_flow_run` / `loads_flow_run`: a call's flow run handed to a worker process;
- `check_main_guard(name)`, `runs_from_unguarded_main()`, `main_script_lacks_guard()`,
  `GUARD_HINT`: the clear error for a script whose spawned workers would run its flow again;
  `keep_main_out_of_spawned_workers()`: spawned workers that skip such a script instead;
- `PLAIN_TYPES` / `all_plain`: arguments plain pickle can carry, cheaply;
- `is_async_cancellation(exc)`: an event loop's cancellation (asyncio's or trio's), which a
  runner running async calls on a loop ends `cancelled(started=True)` and lets propagate;
- `detached_context()`: the caller's context without its async library marker, for a run
  started on a loop of the runner's (the caller may run another library than that loop);
- `captured_log_records()` / `replay_log_records(records)`: a run's log lines carried back with
  its outcome, for engines whose own log pipeline would print them after the run's end;
- `logger`: the `taskloom` logger, for a runner's own lines.

`from taskloom.task_runners import DaskTaskRunner` imports the class from its plugin package, or
raises an `ImportError` naming the package to install.
"""

from __future__ import annotations

from typing import Any

from taskloom._async import detached_context, is_async_cancellation
from taskloom._logging import logger
from taskloom._task_call import CallFields, TaskCall
from taskloom._toolkit.backlog import Backlog
from taskloom._toolkit.batches import auto_batch_size, batch_outcome_state, run_batch
from taskloom._toolkit.dependencies import unstarted_upstream_first, when_final
from taskloom._toolkit.handoff import dumps_flow_run, loads_flow_run
from taskloom._toolkit.main_guard import (
    GUARD_HINT,
    check_main_guard,
    keep_main_out_of_spawned_workers,
    main_script_lacks_guard,
    runs_from_unguarded_main,
)
from taskloom._toolkit.plain import PLAIN_TYPES, all_plain
from taskloom._toolkit.run_logs import PortableRecord, captured_log_records, replay_log_records
from taskloom._toolkit.runner import TaskRunner
from taskloom._toolkit.thread_calls import ThreadCalls
from taskloom._toolkit.worker_signals import leave_signals_to_the_flow, signals_blocked
from taskloom.futures import FinishedFuture, TaskloomFuture

__all__ = [
    "GUARD_HINT",
    "PLAIN_TYPES",
    "Backlog",
    "CallFields",
    "FinishedFuture",
    "PortableRecord",
    "TaskCall",
    "TaskRunner",
    "TaskloomFuture",
    "ThreadCalls",
    "all_plain",
    "auto_batch_size",
    "batch_outcome_state",
    "captured_log_records",
    "check_main_guard",
    "detached_context",
    "dumps_flow_run",
    "is_async_cancellation",
    "keep_main_out_of_spawned_workers",
    "leave_signals_to_the_flow",
    "loads_flow_run",
    "logger",
    "main_script_lacks_guard",
    "replay_log_records",
    "run_batch",
    "runs_from_unguarded_main",
    "signals_blocked",
    "unstarted_upstream_first",
    "when_final",
]


def __getattr__(name: str) -> Any:
    if name.startswith("_") or not name[:1].isupper():
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from taskloom._registry import install_hint, load_task_runner_class, missing_package

    cls = load_task_runner_class(name)
    if cls is not None and cls.__name__ == name:
        return cls
    package = missing_package(name)
    if package is not None:
        raise ImportError(
            f"{name} is provided by the {package} package, which is not installed: "
            f"{install_hint(package)}",
            name=__name__,
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
