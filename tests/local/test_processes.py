"""The process pool runner: tasks in worker processes, pickling errors named, dead workers
crashing only their runs, scripts' `__main__` tasks."""

from __future__ import annotations

import os
import pickle
import signal
import threading
from typing import Any

import psutil
import pytest

from taskloom import flow, task
from taskloom.states import StateType
from taskloom.testing.stress import process_wide
from taskloom_local import ProcessPoolTaskRunner


@pytest.mark.parametrize("max_workers", [0, -1, 1.5, "2", True])
def test_max_workers_must_be_a_positive_integer(max_workers: Any) -> None:
    with pytest.raises(TypeError, match="max_workers"):
        ProcessPoolTaskRunner(max_workers=max_workers)


def test_tasks_run_in_other_processes() -> None:
    @task
    def pid(_: int) -> int:
        return os.getpid()

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def pids() -> list[int]:
        return [f.result() for f in pid.map(range(4))]

    assert os.getpid() not in pids()


def test_unpicklable_argument_fails_that_task_naming_run_and_argument() -> None:
    @task
    def uses(lock: Any) -> str:
        return "never runs"

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def sends_a_lock() -> tuple[str, StateType, str]:
        future = uses.submit(lock=threading.Lock())
        state = future.wait()
        return future.task_run_name, state.type, state.message

    name, kind, message = sends_a_lock()
    assert kind is StateType.FAILED
    assert f"Task run {name!r} could not be sent to a worker process" in message
    assert "argument 'lock' cannot be pickled" in message


def test_unpicklable_argument_leaves_the_other_tasks_running() -> None:
    @task
    def uses(lock: Any) -> None:
        pass

    @task
    def double(x: int) -> int:
        return 2 * x

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def mixed() -> None:
        double.submit(1)
        uses.submit(threading.Lock())
        double.submit(2)

    state = mixed(return_state=True)
    assert state.message == "1/3 states failed."
    with pytest.raises(TypeError, match=r"_thread\.lock"):
        state.result()


def test_unpicklable_result_fails_that_task_saying_so() -> None:
    @task
    def returns_a_lock() -> Any:
        return threading.Lock()

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def gets_a_lock() -> tuple[StateType, str]:
        state = returns_a_lock.submit().wait()
        return state.type, state.message

    kind, message = gets_a_lock()
    assert kind is StateType.FAILED
    assert "cannot be sent back to the flow's process" in message


def test_killed_worker_crashes_its_task_and_the_flow_finishes(within) -> None:
    @task
    def dies() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def loses_a_worker() -> tuple[str, StateType, str]:
        future = dies.submit()
        state = future.wait(30)
        return future.task_run_name, state.type, state.message

    name, kind, message = within(60, loses_a_worker)
    assert kind is StateType.CRASHED
    assert message.startswith(f"Task run {name!r} crashed")


def test_flow_with_a_killed_worker_ends_failed(within) -> None:
    @task
    def dies() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def loses_a_worker() -> None:
        dies.submit()

    state = within(60, lambda: loses_a_worker(return_state=True))
    assert (state.type, state.message) == (StateType.FAILED, "1/1 states failed.")


def test_worker_processes_are_gone_after_the_flow_run() -> None:
    def workers() -> set[int]:
        return {
            child.pid
            for child in psutil.Process().children(recursive=True)
            if not process_wide(child.pid)  # multiprocessing's own helpers
        }

    @task
    def one(_: int) -> int:
        return 1

    before = workers()

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def uses_workers() -> set[int]:
        one.map(range(4))
        return workers() - before

    assert uses_workers()
    assert workers() - before == set()


def test_tasks_defined_in_a_scripts_main_run_in_workers(run_script) -> None:
    done = run_script(
        """
        import os
        from taskloom import flow, task
        from taskloom_local import ProcessPoolTaskRunner

        @task
        def square(x):
            return x * x, os.getpid()

        @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
        def squares(xs):
            return [f.result() for f in square.map(xs)]

        if __name__ == "__main__":
            results = squares([1, 2, 3])
            print([value for value, _ in results], all(p != os.getpid() for _, p in results))
        """
    )
    assert (done.returncode, done.stdout) == (0, "[1, 4, 9] True\n"), done.stderr


def test_tasks_submitted_after_a_worker_died_still_run(within) -> None:
    @task
    def dies() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    @task
    def double(x: int) -> int:
        return 2 * x

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def goes_on() -> int:
        dies.submit().wait(30)
        return double(21)

    assert within(60, goes_on) == 42


def test_runs_submitted_inside_workers_get_names_that_carry_their_parent_run() -> None:
    @task
    def child() -> None:
        pass

    @task
    def parent(_: int) -> list[str]:
        return [child.submit().task_run_name for _ in range(2)]

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def nests() -> tuple[list[str], list[list[str]]]:
        parents = parent.map(range(2))
        return [f.task_run_name for f in parents], [f.result() for f in parents]

    parents, children = nests()
    for parent_name, names in zip(parents, children, strict=True):
        assert [name.split(parent_name)[1] for name in names] == [".0", ".1"]
        assert all(name.startswith("child-") for name in names)


def test_plain_arguments_of_every_type_reach_the_task_unchanged() -> None:
    @task
    def echo(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return args, kwargs

    sent = (1, 2.5, "text", b"\x00bytes", True, None)

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def echoes() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return echo(*sent, flag=False, name="x")

    args, kwargs = echoes()
    assert [(type(v), v) for v in args] == [(type(v), v) for v in sent]
    assert kwargs == {"flag": False, "name": "x"}


def test_results_of_classes_defined_in_a_scripts_main_come_back(run_script) -> None:
    done = run_script(
        """
        from dataclasses import dataclass
        from taskloom import flow, task
        from taskloom_local import ProcessPoolTaskRunner

        @dataclass
        class Point:
            x: int

        @task
        def point(x):
            return Point(x)

        @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
        def points():
            return [f.result() for f in point.map([1, 2])]

        if __name__ == "__main__":
            print([(type(p).__module__, p.x) for p in points()])
        """
    )
    assert (done.returncode, done.stdout) == (0, "[('__main__', 1), ('__main__', 2)]\n"), (
        done.stderr
    )


UNGUARDED = """
from taskloom import flow, task

@task
def hello():
    return "hi"

@flow(task_runner="processes")
def unguarded():
    return hello()

print(unguarded())
"""


def test_a_script_without_the_main_guard_runs_its_flow_once(run_script) -> None:
    done = run_script(UNGUARDED)
    assert (done.returncode, done.stdout) == (0, "hi\n"), done.stderr


def test_worker_processes_do_not_run_the_script_that_started_the_flow(run_script) -> None:
    done = run_script(
        """
        import os
        from taskloom import flow, task
        from taskloom_local import ProcessPoolTaskRunner

        print("script ran")

        @task
        def pid(_):
            return os.getpid()

        @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
        def pids():
            return set(pid.map(range(4)).result())

        if __name__ == "__main__":
            print(len(pids() - {os.getpid()}) >= 1)
        """
    )
    # A worker that ran the script would have printed its line too (workers share stdout).
    assert (done.returncode, done.stdout) == (0, "script ran\nTrue\n"), done.stderr


def test_a_module_run_with_dash_m_without_the_main_guard_gets_one_clear_error(
    run_module,
) -> None:
    done = run_module("unguarded_module", UNGUARDED)
    assert done.returncode != 0
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line.startswith("taskloom.exceptions.TaskRunnerError: ProcessPoolTaskRunner")
    assert 'if __name__ == "__main__":' in last_line
    assert "BrokenProcessPool" not in done.stderr


def test_an_unstarted_processes_runner_unpickles_as_itself_with_its_size() -> None:
    copy = pickle.loads(pickle.dumps(ProcessPoolTaskRunner(max_workers=3)))
    assert type(copy) is ProcessPoolTaskRunner
    assert copy.max_workers == 3
    assert not copy.started


def test_processes_runners_of_one_size_are_equal_and_of_two_sizes_differ() -> None:
    assert ProcessPoolTaskRunner(max_workers=2) == ProcessPoolTaskRunner(max_workers=2)
    assert ProcessPoolTaskRunner(max_workers=2) != ProcessPoolTaskRunner(max_workers=3)
    assert repr(ProcessPoolTaskRunner(max_workers=2)) == "ProcessPoolTaskRunner(max_workers=2)"


def test_a_result_that_cannot_travel_back_is_logged_as_the_failure_it_becomes(
    run_script,
) -> None:
    done = run_script(
        """
        import threading
        from taskloom import flow, task
        from taskloom_local import ProcessPoolTaskRunner

        @task
        def lock():
            return threading.Lock()

        @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
        def locks():
            return lock.submit().wait().type.value

        if __name__ == "__main__":
            print(locks())
        """
    )
    assert (done.returncode, done.stdout) == (0, "FAILED\n"), done.stderr
    finished = [line for line in done.stderr.splitlines() if "finished in state" in line]
    assert "Task run 'lock-" in finished[0]
    assert "finished in state Failed(" in finished[0]
    assert "cannot be sent back" in finished[0]


@task
def plus_one_unless_fifty(x: int) -> int:
    if x % 50 == 0:
        raise ValueError(f"{x} is a multiple of 50")
    return x + 1


@task
def nap(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


@pytest.fixture
def short_runs_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs count as short however busy the machine is (under a loaded test run, a trivial
    run's round trip can pass the 5 ms under which the backlog groups runs)."""
    from taskloom._toolkit import backlog

    monkeypatch.setattr(backlog, "GROUP_RUNS_UNDER", 10.0)
    monkeypatch.setattr(backlog, "GROUP_SECONDS", 1000.0)


@pytest.mark.usefixtures("short_runs_group")
def test_short_runs_beyond_what_the_workers_take_share_submissions_to_the_pool() -> None:
    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def many() -> tuple[list[int], int]:
        futures = plus_one_unless_fifty.map([x for x in range(600) if x % 50])
        return [f.result() for f in futures], len({id(f.inner) for f in futures})

    values, submissions = many()
    assert values == [x + 1 for x in range(1, 600) if x % 50]
    assert submissions < 598 / 2


@pytest.mark.usefixtures("short_runs_group")
def test_each_run_of_a_shared_submission_ends_in_its_own_state() -> None:
    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def many() -> tuple[list[str], int]:
        futures = plus_one_unless_fifty.map(range(600))
        futures.wait()
        return [f.state.name for f in futures], len({id(f.inner) for f in futures})

    names, submissions = many()
    assert names == ["Failed" if x % 50 == 0 else "Completed" for x in range(600)]
    assert submissions < 600 / 2


def test_long_runs_each_go_to_the_pool_on_their_own() -> None:
    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def naps() -> int:
        futures = nap.map([0.02] * 16)
        futures.wait()
        return len({id(f.inner) for f in futures})

    assert naps() == 16


def test_runs_held_when_the_flow_returns_still_run_to_the_end() -> None:
    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def unread() -> Any:
        return plus_one_unless_fifty.map(range(1, 50))  # 49 runs for 2 workers: most held

    assert [f.result() for f in unread()] == list(range(2, 51))


def test_runs_held_when_the_flow_times_out_end_cancelled(within) -> None:
    seen: dict[str, Any] = {}

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2), timeout_seconds=0.5)
    def too_many() -> None:
        seen["futures"] = nap.map([0.01] * 400)  # 4 s of work on 2 workers
        seen["futures"].wait()

    state = within(30, lambda: too_many(return_state=True))
    assert state.name == "TimedOut"
    names = {f.state.name for f in seen["futures"]}
    assert "Cancelled" in names
    assert names <= {"Completed", "Cancelled"}


def test_runs_the_pool_refuses_with_an_error_fail_with_it_instead_of_waiting_forever(
    within, monkeypatch: pytest.MonkeyPatch
) -> None:
    submit = ProcessPoolTaskRunner._submit
    calls = [0]

    def refuse_after_four(self: Any, *args: Any) -> Any:
        calls[0] += 1
        if calls[0] > 4:
            raise OSError("out of processes")
        return submit(self, *args)

    monkeypatch.setattr(ProcessPoolTaskRunner, "_submit", refuse_after_four)

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def refused() -> list[tuple[str, str]]:
        futures = nap.map([0.01] * 12)  # 4 go to the pool, the others are held
        futures.wait()
        return [(f.state.name, f.state.message or "") for f in futures]

    states = within(30, refused)
    assert [name for name, _ in states[:4]] == ["Completed"] * 4
    assert [name for name, _ in states[4:]] == ["Crashed"] * 8
    assert all("out of processes" in message for _, message in states[4:])
