"""The stress scenarios: small flows that every runner must run right, every time.

Each scenario takes an unstarted runner and a scratch folder, runs a flow on the runner and
raises `AssertionError` saying what came out wrong. The scenarios are meant to be run many
times, in fresh processes, with random delays (see `taskloom.testing.stress`): a race shows as
a wrong result, a hang or a process left behind now and then, never in a single run.
`nested` waits in 8 tasks at once: give the runner fewer slots than that.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from taskloom import flow
from taskloom.futures import TaskloomFuture
from taskloom.states import StateType
from taskloom.task_runners import TaskRunner
from taskloom.testing import _stress_tasks as t
from taskloom.testing._inline import InlineTaskRunner
from taskloom.testing._pool import PoolTaskRunner

Scenario = Callable[[TaskRunner, Path], None]

CHAIN_LENGTH = 100
WAITING_PARENTS = 8


def _expect(actual: Any, expected: Any, what: str) -> None:
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def failure_downstream(runner: TaskRunner, workdir: Path) -> None:
    """A failed run, two runs downstream of it, and one beside them."""
    seen: dict[str, Any] = {}

    @flow(task_runner=runner)
    def fails() -> None:
        a = t.fail.submit("boom")
        b = t.add.submit(a, 1)
        c = t.add.submit(b, 1)
        ok = t.add.submit(1, 1)
        # Read here: on some engines results live only as long as their flow run.
        seen["ok"] = ok.result()
        runs: dict[str, TaskloomFuture[Any]] = {"a": a, "b": b, "c": c}
        seen["states"] = {name: future.wait() for name, future in runs.items()}
        seen["names"] = {name: future.task_run_name for name, future in runs.items()}

    state = fails(return_state=True)
    _expect((state.type, state.message), (StateType.FAILED, "3/4 states failed."), "flow state")
    _expect(seen["ok"], 2, "the independent run")
    states, names = seen["states"], seen["names"]
    _expect(states["a"].type, StateType.FAILED, "the failed run")
    for name, upstream in (("b", "a"), ("c", "b")):
        _expect(states[name].name, "NotReady", f"run {name}")
        if f"'{names[upstream]}'" not in (states[name].message or ""):
            raise AssertionError(f"run {name} should name {names[upstream]}: {states[name]!r}")


def chain(runner: TaskRunner, workdir: Path) -> None:
    """100 runs, each taking the one before it; only the last is read."""

    @flow(task_runner=runner)
    def chained() -> int:
        future = t.inc.submit(0)
        for _ in range(CHAIN_LENGTH - 1):
            future = t.inc.submit(future)
        return future.result()

    _expect(chained(), CHAIN_LENGTH, "end of the chain")


def fan_out_fan_in(runner: TaskRunner, workdir: Path) -> None:
    """A map of 20, then one run taking all 20 futures."""

    @flow(task_runner=runner)
    def fans() -> int:
        return t.total.submit(t.inc.map(range(20))).result()

    _expect(fans(), sum(range(1, 21)), "total")


def nested(runner: TaskRunner, workdir: Path) -> None:
    """8 runs that each submit a run and wait for it, from inside their own run."""

    @flow(task_runner=runner)
    def waits() -> list[int]:
        return [f.result() for f in t.parent.map(range(WAITING_PARENTS))]

    _expect(waits(), [(x + 1) * 10 for x in range(WAITING_PARENTS)], "parents' results")


def async_chain(runner: TaskRunner, workdir: Path) -> None:
    """30 async runs, each taking the one before it."""

    @flow(task_runner=runner)
    def chained() -> int:
        future = t.async_inc.submit(0)
        for _ in range(29):
            future = t.async_inc.submit(future)
        return future.result()

    _expect(chained(), 30, "end of the async chain")


def mixed_sync_async(runner: TaskRunner, workdir: Path) -> None:
    """Sync and async runs taking each other's results, and an async map into a sync run."""

    @flow(task_runner=runner)
    def mixed() -> tuple[int, int]:
        future = t.inc.submit(0)
        for step in range(19):
            future = (t.async_inc if step % 2 == 0 else t.inc).submit(future)
        summed = t.total.submit(t.async_inc.map(range(10)))
        return future.result(), summed.result()

    _expect(mixed(), (20, sum(range(1, 11))), "results")


def retries(runner: TaskRunner, workdir: Path) -> None:
    """A run that completes on its third attempt, and one that fails on both of its own."""
    counter = workdir / "attempts"

    @flow(task_runner=runner)
    def retried() -> tuple[int, StateType]:
        failing = t.always_fail.submit()
        attempts = t.fail_twice.submit(counter).result()
        failing.wait()
        return attempts, failing.state.type

    _expect(retried(), (3, StateType.FAILED), "attempts, the other run's state")


def timeouts(runner: TaskRunner, workdir: Path) -> None:
    """A run past its timeout ends `TimedOut`, and the flow goes on."""

    @flow(task_runner=runner)
    def times_out() -> tuple[str, int]:
        late = t.oversleep.submit(0.5)
        on_time = t.add.submit(1, 1)
        return late.wait().name, on_time.result()  # type: ignore[union-attr]

    _expect(times_out(), ("TimedOut", 2), "timed-out state, other result")


def subflow(runner: TaskRunner, workdir: Path) -> None:
    """Subflows with runners of their own: a copy of this runner, and an inline one."""

    @flow(task_runner=runner)
    def child(n: int) -> int:
        return t.total.submit(t.inc.map(range(n))).result()

    @flow(task_runner=InlineTaskRunner())
    def inline_child(n: int) -> int:
        return t.total.submit(t.inc.map(range(n))).result()

    @flow(task_runner=runner)
    def parent() -> tuple[int, int, int]:
        first = t.inc.submit(0)
        return first.result(), child(5), inline_child(3)

    _expect(parent(), (1, 15, 6), "results")


BATCHED_MAP_LENGTH = 60


def batched_map(runner: TaskRunner, workdir: Path) -> None:
    """A batched map with failing elements, read in a loop, and a batched map of its futures
    downstream of it."""
    seen: dict[str, Any] = {}
    n = BATCHED_MAP_LENGTH

    @flow(task_runner=runner)
    def batched() -> None:
        first = t.inc_unless_seven.map(range(n), batch_size=4)
        second = t.inc.map(first, batch_size="auto")
        seen["first"] = [f.result(raise_on_failure=False) for f in first]
        second.wait()
        seen["second"] = [f.state.name for f in second]

    state = batched(return_state=True)
    failed = len(range(0, n, 7))
    _expect(state.type, StateType.FAILED, "flow state")
    _expect(state.message, f"{2 * failed}/{2 * n} states failed.", "flow message")
    values = [v if not isinstance(v, ValueError) else None for v in seen["first"]]
    _expect(values, [None if x % 7 == 0 else x + 1 for x in range(n)], "first map")
    names = ["NotReady" if x % 7 == 0 else "Completed" for x in range(n)]
    _expect(seen["second"], names, "second map")


SATURATED_LENGTH = 200


def saturated_map(runner: TaskRunner, workdir: Path) -> None:
    """Many more short runs at once than the runner has workers (a runner may hold them back
    and send them on in groups): a map with failing elements read backwards, a map of its
    futures read in a loop (which may catch up with the runs), and a map the flow never reads,
    whose runs end when the flow does."""
    seen: dict[str, Any] = {}
    n = SATURATED_LENGTH

    @flow(task_runner=runner)
    def saturated() -> None:
        first = t.inc_unless_seven.map(range(n))
        second = t.inc.map(first)
        seen["unread"] = t.inc.map(range(n))
        seen["first"] = [f.result(raise_on_failure=False) for f in reversed(first)][::-1]
        seen["second values"] = [f.result(raise_on_failure=False) for f in second]
        seen["second"] = [f.state.name for f in second]

    state = saturated(return_state=True)
    failed = len(range(0, n, 7))
    _expect(state.message, f"{2 * failed}/{3 * n} states failed.", "flow message")
    values = [v if not isinstance(v, ValueError) else None for v in seen["first"]]
    _expect(values, [None if x % 7 == 0 else x + 1 for x in range(n)], "first map")
    names = ["NotReady" if x % 7 == 0 else "Completed" for x in range(n)]
    _expect(seen["second"], names, "map downstream")
    values = [v if not isinstance(v, Exception) else None for v in seen["second values"]]
    _expect(values, [None if x % 7 == 0 else x + 2 for x in range(n)], "map downstream, read")
    # States only: an engine may release a run's value when its flow run ends.
    unread = {f.state.name for f in seen["unread"]}
    _expect(unread, {"Completed"}, "map the flow never read")


ACROSS_LENGTH = 20


def across_runners(runner: TaskRunner, workdir: Path) -> None:
    """Runs taking another runner's runs: a chain alternating between this runner and a pool
    of threads, a map of one's futures on the other, a failure crossing over, and `wait_for`
    of a run on the other runner."""
    seen: dict[str, Any] = {}
    elsewhere = PoolTaskRunner(3)
    inc_elsewhere = t.inc.with_options(task_runner=elsewhere)
    fail_elsewhere = t.fail.with_options(task_runner=elsewhere)

    @flow(task_runner=runner)
    def across() -> None:
        future = t.inc.submit(0)
        for step in range(ACROSS_LENGTH - 1):
            future = (inc_elsewhere if step % 2 == 0 else t.inc).submit(future)
        mapped = t.inc.map(inc_elsewhere.map(range(10)))
        failed = fail_elsewhere.submit("boom")
        blocked = t.add.submit(failed, 1)
        after = t.add.submit(1, 1, wait_for=[inc_elsewhere.submit(0)])
        seen["chain"] = future.result()
        seen["mapped"] = mapped.result()
        seen["blocked"] = blocked.wait()
        seen["after"] = after.result()

    state = across(return_state=True)
    _expect(state.type, StateType.FAILED, "flow state")
    _expect(seen["chain"], ACROSS_LENGTH, "end of the chain")
    _expect(seen["mapped"], [x + 2 for x in range(10)], "map of the other runner's runs")
    _expect(seen["blocked"].name, "NotReady", "run downstream of a failure on the other runner")
    _expect(seen["after"], 2, "run waiting for a run on the other runner")


#: Every scenario that runs inside one process, by name. The Ctrl-C scenario, which needs a
#: process of its own per run, is `taskloom.testing.stress.ctrl_c`.
SCENARIOS: dict[str, Scenario] = {
    scenario.__name__.replace("_", "-"): scenario
    for scenario in (
        failure_downstream,
        chain,
        fan_out_fan_in,
        nested,
        async_chain,
        mixed_sync_async,
        retries,
        timeouts,
        subflow,
        batched_map,
        saturated_map,
        across_runners,
    )
}
