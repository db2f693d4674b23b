"""Maps in the core: batched reads of their results, the batch size `"auto"` picks, and what
`batch_size` accepts."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import ClassVar

import pytest

from taskloom import TaskloomFuture, flow, task
from taskloom.states import Completed, State
from taskloom.task_runners import TaskCall, TaskRunner, auto_batch_size
from taskloom.testing import InlineTaskRunner


@task
def double(x: int) -> int:
    return 2 * x


def test_auto_batch_size_gives_each_worker_about_eight_batches() -> None:
    assert auto_batch_size(10_000, 2) == 625
    assert auto_batch_size(64, 2) == 4


def test_auto_batch_size_does_not_batch_a_map_shorter_than_eight_per_worker() -> None:
    assert auto_batch_size(64, 16) == 1
    assert auto_batch_size(5, 2) == 1


def test_auto_batch_size_is_capped() -> None:
    assert auto_batch_size(10_000_000, 2) == 1000


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "big"])
def test_batch_size_takes_a_positive_integer_auto_or_none(bad: object) -> None:
    @flow(task_runner=InlineTaskRunner())
    def maps() -> None:
        double.map([1, 2], batch_size=bad)

    with pytest.raises(TypeError, match="batch_size must be a positive integer, 'auto' or None"):
        maps()


def test_a_runner_without_batches_runs_each_element_on_its_own() -> None:
    @flow(task_runner=InlineTaskRunner())
    def maps() -> list[int]:
        return double.map(range(5), batch_size=2).result()

    assert maps() == [0, 2, 4, 6, 8]


class RemoteFuture(TaskloomFuture):
    """A finished run whose value stays 'remote' until loaded, one request per load."""

    reads_in_batches = True
    requests: ClassVar[list[int]] = []

    def __init__(self, call: TaskCall, value: object) -> None:
        super().__init__(call)
        self._value = value

    def done(self) -> bool:
        return True

    def _wait(self, timeout: float | None) -> State | None:
        def load() -> object:
            RemoteFuture.requests.append(1)
            return self._value

        return Completed(loader=load)

    @classmethod
    def _read_many(cls, futures: Iterable[TaskloomFuture]) -> None:
        # As the engines' reads do: the finished ones, up to the first still going.
        batch = []
        for future in futures:
            state = future.wait(0) if isinstance(future, RemoteFuture) else None
            if state is None:
                break
            batch.append((future, state))
        cls.requests.append(len(batch))
        for future, state in batch:
            state.provide(future._value)


class RemoteRunner(TaskRunner):
    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        state = call.run([f.wait() for f in upstream])
        return RemoteFuture(call, state.data)


def test_reading_a_map_in_a_loop_brings_the_finished_successors_in_one_request() -> None:
    RemoteFuture.requests = []

    @flow(task_runner=RemoteRunner())
    def maps() -> list[int]:
        return [f.result() for f in double.map(range(10))]

    assert maps() == [2 * x for x in range(10)]
    assert RemoteFuture.requests == [10]


def test_reading_one_future_of_a_map_outside_a_loop_brings_only_its_own_result() -> None:
    RemoteFuture.requests = []

    @flow(task_runner=RemoteRunner())
    def maps() -> int:
        return double.map(range(10))[3].result()  # type: ignore[no-any-return]

    assert maps() == 6
    assert RemoteFuture.requests == [1]


def test_map_result_reads_every_result_in_one_request() -> None:
    RemoteFuture.requests = []

    @flow(task_runner=RemoteRunner())
    def maps() -> list[int]:
        return double.map(range(10)).result()

    assert maps() == [2 * x for x in range(10)]
    assert RemoteFuture.requests == [10]


class CatchingUpFuture(RemoteFuture):
    """A run still going when first looked at, final as soon as it is waited for: what a loop
    that has caught up with the engine finds."""

    def __init__(self, call: TaskCall, value: object) -> None:
        super().__init__(call, value)
        self._waited = False

    def done(self) -> bool:
        return self._waited

    def _wait(self, timeout: float | None) -> State | None:
        self._waited = True
        return super()._wait(timeout)


class CatchingUpRunner(RemoteRunner):
    future_class: type[RemoteFuture] = CatchingUpFuture

    def submit(self, call: TaskCall, upstream: Sequence[TaskloomFuture]) -> TaskloomFuture:
        state = call.run([f.wait() for f in upstream])
        return self.future_class(call, state.data)


def test_a_loop_that_caught_up_reads_the_runs_finishing_right_after_in_one_request() -> None:
    RemoteFuture.requests = []

    @flow(task_runner=CatchingUpRunner())
    def maps() -> list[int]:
        return [f.result() for f in double.map(range(10))]

    assert maps() == [2 * x for x in range(10)]
    assert RemoteFuture.requests == [10]


class SlowSiblingFuture(CatchingUpFuture):
    """Every run after the first takes a second."""

    def _wait(self, timeout: float | None) -> State | None:
        if self.call.map_index and (timeout is None or timeout >= 1):
            time.sleep(1)
        elif self.call.map_index:
            time.sleep(timeout or 0)
            return None
        return super()._wait(timeout)


class SlowSiblingRunner(CatchingUpRunner):
    future_class = SlowSiblingFuture


def test_a_loop_that_caught_up_does_not_hold_a_result_back_for_slow_runs_after_it() -> None:
    @flow(task_runner=SlowSiblingRunner())
    def first_read() -> float:
        futures = double.map(range(3))
        start = time.perf_counter()
        for future in futures:
            future.result()
            return time.perf_counter() - start
        raise AssertionError("no future")

    assert first_read() < 0.5
