"""`LocalDaskTaskRunner`: dask's local schedulers, no cluster and no `distributed`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from dask_runner_tasks import (
    add,
    meet,
    process_id,
    sleep_then_return,
    submit_and_wait,
    thread_name,
    write_pid_then_sleep,
)
from taskloom import flow, task
from taskloom_dask import LocalDaskTaskRunner


def test_threads_run_tasks_on_a_pool_in_the_flow_process() -> None:
    @flow(task_runner=LocalDaskTaskRunner("threads", num_workers=2))
    def where() -> tuple[int, str]:
        return process_id(), thread_name()

    pid, name = where()
    assert pid == os.getpid()
    assert name.startswith("taskloom-dask")


def test_processes_run_tasks_in_other_processes() -> None:
    @flow(task_runner=LocalDaskTaskRunner("processes", num_workers=2))
    def where() -> set[int]:
        return {f.result() for f in [process_id.submit() for _ in range(4)]}

    pids = where()
    assert pids and os.getpid() not in pids


def test_processes_run_runs_queued_together_at_the_same_time(tmp_path: Path) -> None:
    def wait_for_file(path: Path) -> None:
        deadline = time.monotonic() + 60
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)

    @flow(task_runner=LocalDaskTaskRunner("processes", num_workers=2))
    def together() -> list[bool]:
        # Both of the runner's two drivers busy: the next runs wait for one as one batch.
        long = write_pid_then_sleep.submit(tmp_path / "long", 3)
        wait_for_file(tmp_path / "long")
        short = write_pid_then_sleep.submit(tmp_path / "short", 1)
        wait_for_file(tmp_path / "short")
        pair = [
            meet.submit(tmp_path, "a", "b", 30),
            meet.submit(tmp_path, "b", "a", 30),
        ]
        results = [f.result() for f in pair]
        long.wait()
        short.wait()
        return results

    assert together() == [True, True]


def test_synchronous_runs_each_task_in_the_submitting_thread_in_order() -> None:
    order: list[int] = []
    threads: set[str] = set()

    @task
    def record(n: int) -> None:
        order.append(n)
        threads.add(threading.current_thread().name)

    @flow(task_runner=LocalDaskTaskRunner("synchronous"))
    def in_order() -> None:
        record.map(range(5))

    in_order()
    assert order == [0, 1, 2, 3, 4]
    assert threads == {threading.current_thread().name}


def test_each_run_finishes_on_its_own_not_with_its_batch() -> None:
    @flow(task_runner=LocalDaskTaskRunner("threads", num_workers=2))
    def fast_and_slow() -> float:
        slow = sleep_then_return.submit(2.0)
        start = time.monotonic()
        sleep_then_return(0.0)
        fast = time.monotonic() - start
        slow.wait()
        return fast

    assert fast_and_slow() < 1.5


def test_waiting_runs_do_not_deadlock_a_one_thread_pool() -> None:
    @flow(task_runner=LocalDaskTaskRunner("threads", num_workers=1), timeout_seconds=60)
    def nests() -> list[int]:
        return [f.result() for f in submit_and_wait.map([1, 2, 3])]

    assert nests() == [20, 30, 40]


def test_an_argument_that_cannot_be_pickled_fails_only_its_run_on_processes() -> None:
    @flow(task_runner=LocalDaskTaskRunner("processes", num_workers=2))
    def unpicklable() -> tuple[str, str, int]:
        bad = add.submit(threading.Lock(), 1)
        good = add.submit(1, 1)
        state = bad.wait()
        assert state is not None
        return state.name, str(state.message), good.result()

    name, message, good = unpicklable()
    assert (name, good) == ("Failed", 2)
    assert "could not be sent to a worker process: argument 0 cannot be pickled" in message


def test_a_flow_on_local_dask_never_imports_distributed(python_env: dict[str, str]) -> None:
    script = textwrap.dedent(
        """
        import sys
        from taskloom import flow, task
        from taskloom_dask import LocalDaskTaskRunner

        @task
        def double(x):
            return 2 * x

        @flow(task_runner=LocalDaskTaskRunner("processes", num_workers=1))
        def doubles():
            return [f.result() for f in double.map([1, 2])]

        if __name__ == "__main__":
            assert doubles() == [2, 4]
            print("distributed" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=python_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == "False", done.stderr[-2000:]


def test_extra_keyword_arguments_are_dask_configuration_while_the_runner_runs() -> None:
    import dask

    @task
    def configured() -> object:
        return dask.config.get("taskloom-test.setting", None)

    @flow(task_runner=LocalDaskTaskRunner(scheduler="threads", taskloom_test__setting=5))
    def with_config() -> object:
        return configured()

    assert with_config() == 5
    assert dask.config.get("taskloom-test.setting", None) is None


def test_the_configuration_travels_with_the_runners_copies() -> None:
    runner = LocalDaskTaskRunner(scheduler="threads", num_workers=2, **{"a.b": 1})
    assert runner.duplicate().config == {"a.b": 1}
