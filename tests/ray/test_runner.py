"""The Ray runner on a local Ray: data between workers, Ray options, nesting, dead workers."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import ray_runner_tasks as rt
from taskloom import flow, unmapped
from taskloom.futures import TaskloomFuture
from taskloom.states import StateType
from taskloom_ray import RayTaskRunner, _session, remote_options

pytestmark = pytest.mark.usefixtures("local_ray")


def test_a_future_argument_reaches_the_dependent_task_without_the_flow_loading_it() -> None:
    @flow(task_runner=RayTaskRunner())
    def hand_over() -> tuple[bool, bool]:
        # Unpickling the upstream value in this process raises (see `OnlyInWorkers`).
        upstream = rt.only_in_workers.submit(os.getpid())
        received = rt.is_worker_value.submit(upstream).result()
        return received, upstream.state.is_completed()

    assert hand_over() == (True, True)


def test_a_completed_runs_value_is_fetched_when_asked_for() -> None:
    @flow(task_runner=RayTaskRunner())
    def fetches() -> int:
        return len(rt.megabytes.submit(2).result())

    assert fetches() == 2 * 1024 * 1024


def test_each_run_after_a_failure_names_its_own_upstream() -> None:
    names: dict[str, str] = {}
    messages: dict[str, str | None] = {}

    @flow(task_runner=RayTaskRunner())
    def chain() -> None:
        failed = rt.fail.submit()
        first = rt.identity.submit(failed)
        second = rt.identity.submit(first)
        # Waiting for the last first: its upstream's state is not known yet.
        second.wait()
        names.update(failed=failed.task_run_name, first=first.task_run_name)
        messages.update(first=first.state.message, second=second.state.message)

    chain(return_state=True)
    assert names["failed"] in (messages["first"] or "")
    assert names["first"] in (messages["second"] or "")


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((3, 2.5, "text", True, None), {}),
        ((), {"value": "by keyword"}),
        (([1, {"a": None}], (2, 3)), {"value": b"bytes"}),
    ],
    ids=["plain scalars", "plain keyword", "containers and bytes"],
)
def test_arguments_reach_the_task_unchanged(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # Plain scalars travel in one pickle of the runner's, anything else as Ray serializes it.
    @flow(task_runner=RayTaskRunner())
    def echoes() -> Any:
        return rt.echo.submit(*args, **kwargs).result()

    assert echoes() == [list(args), kwargs]


def test_a_run_whose_arguments_ray_cannot_send_fails_and_the_flow_goes_on() -> None:
    @flow(task_runner=RayTaskRunner())
    def unsendable() -> tuple[StateType, str, int]:
        state = rt.identity.submit(threading.Lock()).wait()
        assert state is not None
        return state.type, state.message or "", rt.identity(3)

    kind, message, after = unsendable(return_state=True).result()
    assert kind is StateType.FAILED
    assert "could not be sent to Ray" in message
    assert after == 3


def test_a_loop_that_caught_up_with_its_runs_times_out_on_one_still_going() -> None:
    # The first read waits for its run: the loop has caught up, and the next read first gives
    # the runs after it a moment to finish, within its own time limit.
    @flow(task_runner=RayTaskRunner())
    def loop() -> tuple[list[float], float]:
        values: list[float] = []
        for future in rt.sleep_for.map([0.3, 2.0]):
            start = time.monotonic()
            try:
                values.append(future.result(timeout=0.5))
            except TimeoutError:
                return values, time.monotonic() - start
        return values, 0.0

    values, waited = loop()
    assert values == [0.3]
    assert 0.5 <= waited < 1.5


def test_remote_options_set_the_resources_of_runs_submitted_inside() -> None:
    @flow(task_runner=RayTaskRunner())
    def reserves() -> dict[str, float]:
        with remote_options(num_cpus=2, resources={"tl_test": 1}):
            return rt.assigned_resources()  # type: ignore[no-any-return]

    assert reserves() == {"CPU": 2.0, "tl_test": 1.0}


def test_remote_options_take_max_calls_which_ray_only_takes_in_ray_remote() -> None:
    @flow(task_runner=RayTaskRunner())
    def each_in_a_fresh_worker() -> list[int]:
        with remote_options(max_calls=1):
            runs = [rt.worker_pid.submit() for _ in range(3)]
        return [run.result() for run in runs]

    # A worker process ends after `max_calls` runs: each run had a process of its own.
    assert len(set(each_in_a_fresh_worker())) == 3


def test_runs_outside_remote_options_get_rays_defaults() -> None:
    @flow(task_runner=RayTaskRunner())
    def reserves() -> dict[str, float]:
        with remote_options(num_cpus=2):
            rt.identity(1)
        return rt.assigned_resources()  # type: ignore[no-any-return]

    assert reserves() == {"CPU": 1.0}


def test_nested_remote_options_change_only_what_they_name() -> None:
    @flow(task_runner=RayTaskRunner())
    def reserves() -> dict[str, float]:
        with remote_options(num_cpus=2), remote_options(resources={"tl_test": 2}):
            return rt.assigned_resources()  # type: ignore[no-any-return]

    assert reserves() == {"CPU": 2.0, "tl_test": 2.0}


def test_remote_options_apply_to_every_run_of_a_map() -> None:
    @flow(task_runner=RayTaskRunner())
    def reserves() -> list[dict[str, float]]:
        with remote_options(resources={"tl_test": 1}):
            futures = rt.assigned_resources.map(["a", "b"])
        return [f.result() for f in futures]

    assert reserves() == [{"CPU": 1.0, "tl_test": 1.0}] * 2


def test_remote_options_refuse_num_returns() -> None:
    with pytest.raises(TypeError, match="num_returns"), remote_options(num_returns=1):
        pass


def test_an_async_task_submitted_from_inside_a_worker_runs() -> None:
    @flow(task_runner=RayTaskRunner())
    def nests() -> str:
        return rt.submit_async_child("inner")  # type: ignore[no-any-return]

    assert nests() == "inner"


def test_a_subflow_with_its_own_ray_runner_leaves_the_parents_ray_running() -> None:
    @flow(task_runner=RayTaskRunner())
    def child() -> int:
        return rt.identity(1)  # type: ignore[no-any-return]

    @flow(task_runner=RayTaskRunner())
    def parent() -> tuple[int, int]:
        from_child = child()
        return from_child, rt.identity(2)

    assert parent() == (1, 2)


def test_a_run_whose_worker_dies_crashes_and_the_flow_goes_on(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    @flow(task_runner=RayTaskRunner())
    def loses_a_worker() -> tuple[StateType, str, int]:
        doomed = rt.pid_then_sleep.submit(pid_file, 60)
        _kill_when_written(pid_file)
        state = doomed.wait(30)
        assert state is not None
        return state.type, state.message or "", rt.identity(7)

    kind, message, after = loses_a_worker(return_state=True).result()
    assert kind is StateType.CRASHED
    assert "crashed" in message
    assert after == 7


def test_max_retries_runs_a_task_again_after_its_worker_died(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    @flow(task_runner=RayTaskRunner())
    def retries() -> str:
        with remote_options(max_retries=1):
            doomed = rt.pid_then_sleep.submit(pid_file, 60)
        _kill_when_written(pid_file)
        return doomed.result(timeout=60)  # type: ignore[no-any-return]

    assert retries() == "rerun"


def test_an_interrupted_flow_run_cancels_its_unfinished_runs_before_leaving(
    tmp_path: Path,
) -> None:
    started = tmp_path / "started"
    submitted: list[TaskloomFuture] = []

    @flow(task_runner=RayTaskRunner())
    def interrupted() -> None:
        submitted.append(rt.mark_started_then_sleep.submit(started, 60))
        _wait_for_text(started)
        raise KeyboardInterrupt

    begin = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert time.monotonic() - begin < 30
    # Shutdown waited for the cancelled run to end: it was over when the flow call returned.
    assert submitted[0].done()
    assert submitted[0].state.type is StateType.CANCELLED  # cancelled by the flow: not Crashed


def test_shutdown_waits_a_bounded_time_for_runs_still_going(taskloom_log: Any) -> None:
    import ray

    @ray.remote(num_cpus=0)
    def nap() -> None:
        time.sleep(60)

    still_going = nap.remote()
    try:
        begin = time.monotonic()
        _session.drain([still_going], timeout=0.5)
        assert 0.4 < time.monotonic() - begin < 10
        assert any("1 Ray task run(s) had not ended" in m for m in taskloom_log.messages)
    finally:
        ray.cancel(still_going, force=True)


def _kill_when_written(pid_file: Path) -> None:
    _wait_for_text(pid_file)
    os.kill(int(pid_file.read_text()), signal.SIGKILL)


def _wait_for_text(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists() or not path.read_text():
        if time.monotonic() > deadline:
            raise TimeoutError("the task never started")
        time.sleep(0.05)


def _lines_and_end(messages: list[str], label: str, run_name: str) -> tuple[list[str], bool]:
    """The lines run `run_name` logged (their text starts with `label`), in the order printed,
    and whether they all came before the line saying how it ended."""
    prefix = f"Task run {run_name!r} - {label} "
    lines = [i for i, m in enumerate(messages) if m.startswith(prefix)]
    end = next(i for i, m in enumerate(messages) if m.startswith(f"Task run {run_name!r} finished"))
    return [messages[i] for i in lines], bool(lines) and max(lines) < end


def test_a_runs_log_lines_reach_the_flows_output_before_its_end(taskloom_log: Any) -> None:
    @flow(task_runner=RayTaskRunner())
    def logs() -> list[str]:
        futures = rt.logs_lines.map(["alpha", "beta"], unmapped(3))
        assert [f.result() for f in futures] == [3, 3]
        return [f.task_run_name for f in futures]

    for label, run_name in zip(["alpha", "beta"], logs(), strict=True):
        lines, first = _lines_and_end(taskloom_log.messages, label, run_name)
        assert lines == [f"Task run {run_name!r} - {label} line {i}" for i in range(3)]
        assert first


def test_a_failed_runs_log_lines_reach_the_flows_output_before_its_end(
    taskloom_log: Any,
) -> None:
    @flow(task_runner=RayTaskRunner())
    def fails() -> str:
        future = rt.logs_then_fails.submit("gamma")
        future.wait()
        return future.task_run_name

    run_name = fails(return_state=True).result(raise_on_failure=False)
    lines, first = _lines_and_end(taskloom_log.messages, "gamma", run_name)
    assert lines == [f"Task run {run_name!r} - gamma about to fail"]
    assert first


def test_the_log_lines_of_a_batched_maps_runs_come_before_their_ends(taskloom_log: Any) -> None:
    @flow(task_runner=RayTaskRunner())
    def batched() -> list[str]:
        futures = rt.logs_lines.map(["delta", "epsilon"], unmapped(2), batch_size=2)
        assert futures.result() == [2, 2]
        return [f.task_run_name for f in futures]

    for label, run_name in zip(["delta", "epsilon"], batched(), strict=True):
        lines, first = _lines_and_end(taskloom_log.messages, label, run_name)
        assert lines == [f"Task run {run_name!r} - {label} line {i}" for i in range(2)]
        assert first
