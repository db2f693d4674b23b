"""The runner toolkit's `Backlog`: runs held while the engine is saturated, sent on in groups."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence

import pytest

from taskloom.task_runners import Backlog


class Engine:
    """Records what the backlog sends; the test says when each submission comes back."""

    def __init__(self) -> None:
        self.sent: list[list[int]] = []
        self.out: list[Callable[[], None]] = []
        self.lock = threading.Lock()

    def send(self, items: Sequence[int], done: Callable[[], None]) -> None:
        with self.lock:
            self.sent.append(list(items))
            self.out.append(done)

    def return_oldest(self, after: float = 0.0) -> None:
        if after:
            time.sleep(after)
        with self.lock:
            done = self.out.pop(0)
        done()

    @property
    def runs_sent(self) -> list[int]:
        return [item for group in self.sent for item in group]


def same_key(item: int) -> int:
    return 0


def backlog_of(engine: Engine, depth: int = 2, workers: int = 1, key=same_key) -> Backlog[int]:
    return Backlog(engine.send, key, depth=depth, workers=workers)


def test_runs_go_at_once_while_fewer_than_depth_submissions_are_out() -> None:
    engine = Engine()
    backlog = backlog_of(engine, depth=3)
    for item in range(3):
        backlog.offer(item)
    assert engine.sent == [[0], [1], [2]]
    assert backlog.held == 0


def test_runs_beyond_depth_wait_for_a_submission_to_come_back() -> None:
    engine = Engine()
    backlog = backlog_of(engine, depth=2)
    for item in range(3):
        backlog.offer(item)
    assert engine.runs_sent == [0, 1]
    assert backlog.held == 1
    engine.return_oldest()
    assert engine.runs_sent == [0, 1, 2]
    assert backlog.held == 0


def test_runs_are_not_grouped_before_a_submission_has_come_back() -> None:
    engine = Engine()
    backlog = backlog_of(engine, depth=1)
    for item in range(50):
        backlog.offer(item)
    backlog.close()  # nothing came back yet: how long runs take is unknown
    assert all(len(group) == 1 for group in engine.sent)
    assert engine.runs_sent == list(range(50))


def test_short_runs_held_go_on_in_groups_that_shrink_as_the_backlog_does() -> None:
    engine = Engine()
    backlog = backlog_of(engine, depth=1, workers=1)
    for item in range(200):
        backlog.offer(item)
    while engine.out:
        engine.return_oldest()
    sizes = [len(group) for group in engine.sent]
    assert engine.runs_sent == list(range(200))
    assert max(sizes) > 1
    assert sizes[1:] == sorted(sizes[1:], reverse=True)
    assert sizes[-1] == 1


def test_no_group_is_larger_than_a_share_of_what_waits_per_worker() -> None:
    engine = Engine()
    backlog = backlog_of(engine, depth=8, workers=4)
    for item in range(1000):
        backlog.offer(item)
    while engine.out:
        engine.return_oldest()
    waiting = 1000 - 8
    for group in engine.sent[8:]:
        assert len(group) <= max(1, -(-waiting // (4 * 4)))
        waiting -= len(group)


def test_runs_that_took_long_are_sent_on_one_at_a_time() -> None:
    engine = Engine()
    backlog = backlog_of(engine, depth=1)
    for item in range(6):
        backlog.offer(item)
    while engine.out:
        engine.return_oldest(after=0.01)
    assert engine.sent == [[item] for item in range(6)]


def test_runs_of_a_key_not_seen_back_yet_go_alone_whatever_other_keys_took() -> None:
    engine = Engine()
    backlog = backlog_of(engine, depth=1, key=lambda item: item >= 100)
    for item in range(200):
        backlog.offer(item)
    while engine.out and engine.runs_sent[-1] < 100:
        engine.return_oldest()  # the short runs of the first key, grouped
    first_of_second_key = engine.sent[-1]
    assert first_of_second_key == [100]


def test_runs_of_different_keys_never_share_a_submission() -> None:
    engine = Engine()
    backlog = backlog_of(engine, depth=1, key=lambda item: item % 2)
    for item in range(100):
        backlog.offer(item)
    while engine.out:
        engine.return_oldest()
    assert sorted(engine.runs_sent) == list(range(100))
    assert all(len({item % 2 for item in group}) == 1 for group in engine.sent)


def test_a_run_without_a_key_goes_on_its_own() -> None:
    engine = Engine()
    backlog = backlog_of(engine, depth=1, key=lambda item: None if item == 40 else 0)
    for item in range(100):
        backlog.offer(item)
    while engine.out:
        engine.return_oldest()
    assert [40] in engine.sent
    assert engine.runs_sent == list(range(100))


def test_close_sends_every_run_held_and_later_runs_go_at_once() -> None:
    engine = Engine()
    backlog = backlog_of(engine, depth=1)
    for item in range(5):
        backlog.offer(item)
    backlog.close()
    assert engine.runs_sent == list(range(5))
    backlog.offer(5)
    assert engine.runs_sent == list(range(6))
    assert backlog.held == 0


def test_submissions_that_end_inside_send_do_not_recurse() -> None:
    engine = Engine()
    holding = [True]

    def send(items: Sequence[int], done: Callable[[], None]) -> None:
        engine.sent.append(list(items))
        if holding[0]:
            engine.out.append(done)
        else:
            done()  # an engine that has stopped ends every submission at once

    backlog = Backlog(send, lambda item: None, depth=1, workers=1)
    for item in range(20_000):
        backlog.offer(item)
    holding[0] = False
    engine.return_oldest()
    assert engine.runs_sent == list(range(20_000))
    assert backlog.held == 0


def test_a_send_that_raises_still_counts_its_submission_as_back() -> None:
    engine = Engine()

    def send(items: Sequence[int], done: Callable[[], None]) -> None:
        if items[0] == 1:
            raise RuntimeError("refused")
        engine.send(items, done)

    backlog = Backlog(send, same_key, depth=1, workers=1)
    backlog.offer(0)
    backlog.offer(1)
    backlog.offer(2)
    with pytest.raises(RuntimeError, match="refused"):
        engine.return_oldest()  # sends 1, which raises; 2 still goes
    assert engine.runs_sent == [0, 2]


def test_a_second_done_of_one_submission_changes_nothing() -> None:
    engine = Engine()
    backlog = backlog_of(engine, depth=1)
    for item in range(3):
        backlog.offer(item)
    first = engine.out.pop(0)
    first()
    first()
    assert engine.runs_sent == [0, 1]
    assert backlog.held == 1


@pytest.mark.timeout(60)
def test_runs_offered_and_returned_from_many_threads_are_each_sent_once() -> None:
    engine = Engine()
    backlog = backlog_of(engine, depth=4, workers=2)
    offered = threading.Event()
    rng = random.Random(7)

    def offer(start: int) -> None:
        for item in range(start, start + 5_000):
            backlog.offer(item)

    def engine_loop() -> None:
        while not (offered.is_set() and not engine.out):
            with engine.lock:
                done = engine.out.pop(rng.randrange(len(engine.out))) if engine.out else None
            if done is not None:
                done()
            else:
                time.sleep(0.0001)

    offerers = [threading.Thread(target=offer, args=(k * 5_000,)) for k in range(4)]
    returner = threading.Thread(target=engine_loop)
    returner.start()
    for thread in offerers:
        thread.start()
    for thread in offerers:
        thread.join(30)
    offered.set()
    returner.join(30)
    assert not returner.is_alive()
    assert sorted(engine.runs_sent) == list(range(20_000))
    assert backlog.held == 0


@pytest.mark.parametrize(("depth", "workers"), [(0, 1), (1, 0)])
def test_depth_and_workers_must_be_positive(depth: int, workers: int) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        Backlog(Engine().send, same_key, depth=depth, workers=workers)
