"""Futures of Ray task runs: final states read from a tiny marker object, values left remote."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayTaskError

from taskloom.exceptions import TaskRunFailure
from taskloom.futures import TaskloomFuture
from taskloom.states import Completed, State
from taskloom.task_runners import TaskCall, replay_log_records

_finishing = threading.Lock()

#: How long, and for how many following runs, a loop over a map that caught up with the runs
#: gives them to finish, to read them together (see `RayFuture._read_in_order`): some twenty
#: runs of Ray's per-task floor on a small machine, and the most it delays one result. Measured
#: against 2 ms (2,000 trivial tasks, 2 CPUs, 8 alternating rounds each): the list idiom 1.05
#: and 1.04 of raw `ray.get` of all against 1.06 and 1.10; each read of the loop asks Ray once
#: per ~14 runs instead of once per ~6.
CATCH_UP_SECONDS = 0.005
CATCH_UP_RUNS = 64


class RayFuture(TaskloomFuture):
    """A task run on Ray: its marker says how it ended; its value stays in Ray's object store.

    Waiting fetches only the marker, so a run's final state is known in the flow's process
    without its value coming along; the state's data is fetched on first use.
    """

    __slots__ = ("_catching_up", "_in_worker", "_marker", "_state", "_upstream", "value_ref")

    # Reading one result of a map fetches its finished siblings in the same `ray.get`.
    reads_in_batches = True

    def __init__(
        self,
        call: TaskCall,
        marker: Any,
        value: Any,
        upstream: Sequence[TaskloomFuture],
        in_worker: bool = False,
    ) -> None:
        super().__init__(call)
        #: submitted from inside a Ray task: waits there go through Ray (see `_block`)
        self._in_worker = in_worker
        self._marker = marker
        #: the run's value in Ray's object store: what a dependent task receives
        self.value_ref = value
        self._upstream = upstream
        self._state: State | None = None
        #: a loop over its map caught up with the runs before it (see `_read_in_order`)
        self._catching_up = False

    @property
    def marker_ref(self) -> Any:
        """The run's marker in Ray's object store: what a task that only waits for it receives."""
        return self._marker

    def _wait(self, timeout: float | None) -> State | None:
        state = self._state
        if state is not None:
            return state
        return self._learn(timeout, with_value=False)[0]

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> Any:
        if self._final is None and self._state is None and self._waiter is None:
            # The value is wanted anyway, and tells how the run ended too: fetch it at once, in
            # a loop over its map together with its finished successors (`_read_in_order`).
            deadline = None if timeout is None else time.monotonic() + timeout
            if self._group is None or not self._read_in_order(timeout):
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                state, at_once = self._learn(remaining, with_value=True)
                if state is None:
                    raise TimeoutError(
                        f"Task run {self.task_run_name!r} did not finish within {timeout} second(s)"
                    )
                self._final = state
                if not at_once:
                    # The loop has caught up with the runs: the next read waits a moment for
                    # its successors.
                    _catch_up_at(next(self._siblings(), None))
        return super().result(timeout, raise_on_failure)

    def _read_in_order(self, timeout: float | None) -> bool:
        """Read this run's result, in a loop over its map, in one `ray.get` with those of the
        finished runs that follow it; False if it has not finished (then nothing is read).

        A loop that has caught up with the runs finds the next one still going, and the runs
        after it about to finish: there, a read first gives this run and up to
        `CATCH_UP_RUNS` after it `CATCH_UP_SECONDS` (one `ray.wait`) to finish, so that one
        request brings several results home instead of one each, for at most that moment's
        delay of this result. Elsewhere it only asks Ray which have finished.
        """
        candidates = itertools.chain((self,), self._siblings())
        if self._catching_up:
            window = CATCH_UP_SECONDS if timeout is None else min(CATCH_UP_SECONDS, timeout)
            batch, stopped_at = _finished_prefix(candidates, CATCH_UP_RUNS, window)
        else:
            batch, stopped_at = _finished_prefix(candidates)
        if not batch:
            return False
        _catch_up_at(stopped_at)
        self._fetch(batch)
        return self._state is not None

    @classmethod
    def _wait_many(cls, futures: Sequence[TaskloomFuture], timeout: float | None) -> None:
        pending = [f for f in futures if isinstance(f, RayFuture) and f._state is None]
        deadline = None if timeout is None else time.monotonic() + timeout
        while pending:
            ready = set(_ready([f._marker for f in pending]))
            pending = [f for f in pending if f._marker not in ready]
            if not pending:
                return
            # Runs mostly finish in the order they were sent: once the last one has, so have
            # most others, and one more look finds them.
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                if remaining == 0 or not pending[-1]._block(remaining):
                    return
            except TimeoutError:
                return

    @classmethod
    def _read_many(cls, futures: Iterable[TaskloomFuture]) -> None:
        wanted = (
            f
            for f in futures
            if isinstance(f, RayFuture) and (f._state is None or not f._state.is_loaded())
        )
        batch, _ = _finished_prefix(wanted)
        if batch:
            cls._fetch(batch)

    @staticmethod
    def _fetch(batch: list[RayFuture]) -> None:
        """Bring the results of `batch`, runs that have all returned, home in one `ray.get`;
        if some did not complete, none (each then reads its own, with its own error)."""
        # The markers of runs not known to have ended come too: they hold the runs' log lines.
        unknown = [f for f in batch if f._state is None]
        try:
            fetched = ray.get([f.value_ref for f in batch] + [f._marker for f in unknown])
        except Exception:
            return
        values, fetched_markers = fetched[: len(batch)], fetched[len(batch) :]
        markers = dict(zip(map(id, unknown), fetched_markers, strict=True))
        for future, value in zip(batch, values, strict=True):
            known = future._state
            if known is not None:
                known.provide(value)
                continue
            state = State.completed(value)
            with _finishing:
                learnt = future._state is None
                if learnt:
                    future._state = state
                    future._upstream = ()
            if learnt:
                _replay(markers.get(id(future)))
                future.call.log_final(state)
            future.wait(0)  # through the flow run, which is told of the final state

    def _learn(self, timeout: float | None, with_value: bool) -> tuple[State | None, bool]:
        """Wait at most `timeout` seconds for the run's final state, fetching its value too
        when `with_value` (else the state loads it on first use); and whether the run had
        finished before, so that nothing was waited for."""
        # A run that did not complete left its error in both objects: either tells how it ended.
        # The marker comes with the value: it holds the lines the run logged, if any.
        ref = [self._marker, self.value_ref] if with_value else self._marker
        fetched: Any
        at_once = True
        try:
            try:
                fetched = ray.get(ref, timeout=0)
            except GetTimeoutError:
                at_once = False
                if timeout == 0:
                    return None, False
                if self._in_worker:
                    if not self._block(timeout):
                        return None, False
                    fetched = ray.get(ref)  # ready now: its value, or its error raised
                else:
                    fetched = get_in_slices(ref, timeout)
        except TimeoutError:
            return None, False
        except Exception as exc:
            state = self._state_from_error(exc)
            cause = task_error(exc)
            made_there = (
                isinstance(cause, TaskRunFailure) and cause.task_run_name == self.task_run_name
            )
            logged = getattr(cause, "log_records", None) if made_there else None
        else:
            made_there = True
            if with_value:
                logged, value = fetched
                state = State.completed(value)
            else:
                logged, state = fetched, Completed(loader=self._load)
        with _finishing:
            if self._state is not None:  # another thread learnt it meanwhile
                return self._state, at_once
            self._state = state
            self._upstream = ()
        # The worker did not log how the run finished (see `_remote.WorkerCall`); a state it
        # made has been through the task's state handlers there. The lines the run logged
        # came back with it: they go first, as they happened.
        if made_there:
            _replay(logged)
            return self.call.log_final(state), at_once
        return self.call.finish(state), at_once

    def _block(self, timeout: float | None) -> bool:
        """Wait at most `timeout` seconds until the run has returned; False if it has not."""
        return block(self._marker, timeout, self._in_worker)

    def done(self) -> bool:
        if self._state is not None:
            return True
        ready, _ = ray.wait([self._marker], timeout=0, fetch_local=False)
        return bool(ready)

    def add_done_callback(self, fn: Callable[[TaskloomFuture], Any]) -> None:
        if self._state is not None:
            fn(self)
            return
        self._marker.future().add_done_callback(lambda _: fn(self))

    def _load(self) -> Any:
        return ray.get(self.value_ref)

    def _state_from_error(self, exc: Exception) -> State:
        call = self.call
        # Ray reports an error nobody fetched when its object is freed: fetch both objects'.
        for ref in (self._marker, self.value_ref):
            with contextlib.suppress(Exception):
                ray.get(ref)
        cause = task_error(exc)
        if isinstance(cause, ray.exceptions.TaskCancelledError):
            # Only the runner cancels its runs: its flow run was cancelled or timed out.
            return call.cancelled_state(started=True)
        if isinstance(cause, TaskRunFailure) and cause.task_run_name != call.task_run_name:
            # Ray hands down the first failure of a chain: name the upstream run of this one
            # that did not complete, as every runner does.
            return call.not_ready(_first_incomplete(self._upstream) or cause.task_run_name)
        return call.state_from_error(cause)


def block(ref: Any, timeout: float | None, in_worker: bool) -> bool:
    """Wait at most `timeout` seconds until the Ray object `ref` is ready; False if it is not."""
    if in_worker:
        # Inside a Ray task, waiting through Ray lets Ray lend this task's CPU to others
        # meanwhile: tasks waiting for the tasks they submitted cannot hold every CPU.
        ready, _ = ray.wait([ref], timeout=timeout, fetch_local=False)
        return bool(ready)
    try:
        get_in_slices(ref, timeout)
    except TimeoutError:
        return False
    except Exception:
        pass  # the run failed: its objects say how
    return True


def _replay(logged: Any) -> None:
    """Print the lines a run logged in its worker, which came back in its marker (a list; the
    marker of a run that logged nothing is `True`) or on its `TaskRunFailure`."""
    if isinstance(logged, list) and logged:
        replay_log_records(logged)


def task_error(exc: BaseException) -> BaseException:
    """The error a Ray task raised, out of the `RayTaskError` Ray wraps it in."""
    if isinstance(exc, RayTaskError) and isinstance(exc.cause, BaseException):
        return exc.cause
    return exc


#: The longest a wait in the flow's process stays inside Ray at a time (see `get_in_slices`).
SLICE_SECONDS = 0.1


def get_in_slices(ref: Any, timeout: float | None) -> Any:
    """`ray.get(ref)` in the flow's process, waiting at most `timeout` seconds (else
    `TimeoutError`), inside Ray at most `SLICE_SECONDS` at a time.

    Ray runs a signal handler that fires during `ray.get` without returning early and then
    raises an error of its own in place of the handler's exception: the flow's Ctrl-C and
    SIGTERM handlers raise exceptions the engine must see as raised, within a moment. So the
    wait is cut in slices, and the handler's exception, found in the context of Ray's error,
    is raised again as it was.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise TimeoutError(f"the Ray object {ref} was not ready within {timeout} second(s)")
        try:
            return ray.get(
                ref, timeout=SLICE_SECONDS if remaining is None else min(SLICE_SECONDS, remaining)
            )
        except GetTimeoutError as exc:
            _raise_interruption(exc)
        except BaseException as exc:  # Ray's own KeyboardInterrupt, SystemExit or SystemError
            _raise_interruption(exc)
            raise


def _raise_interruption(exc: BaseException) -> None:
    """Raise the exception of a signal handler that Ray replaced with `exc`, if it did."""
    if isinstance(exc, RayTaskError):
        return  # a task's own error
    for cause in (exc.__cause__, exc.__context__):
        if isinstance(cause, BaseException) and not isinstance(cause, Exception):
            raise cause from None


def _finished_prefix(
    futures: Iterator[TaskloomFuture], size: int = 16, wait: float = 0
) -> tuple[list[RayFuture], Any]:
    """The futures of `futures` up to the first whose run has not returned, and that one
    (None if every one has), asked of Ray in chunks of `size` that double while every run of a
    chunk has (so a loop caught up with the runs pays for one small look, not for a look at
    every run left). The runs of the first chunk get `wait` seconds to return."""
    finished: list[RayFuture] = []
    while chunk := list(itertools.islice(futures, size)):
        unknown = [f._marker for f in chunk if isinstance(f, RayFuture) and f._state is None]
        prefix, stopped_at = _prefix(chunk, set(_ready(unknown, wait)) if unknown else set())
        finished += prefix
        if stopped_at is not None:
            return finished, stopped_at
        size *= 2
        wait = 0
    return finished, None


def _prefix(futures: list[TaskloomFuture], ready: set[Any]) -> tuple[list[RayFuture], Any]:
    """The futures of `futures` up to the first that is neither a Ray run known to have ended
    nor one whose marker is in `ready`, and that one (None if there is none)."""
    for index, future in enumerate(futures):
        if not isinstance(future, RayFuture) or (
            future._state is None and future._marker not in ready
        ):
            return futures[:index], future  # type: ignore[return-value]
    return futures, None  # type: ignore[return-value]


def _catch_up_at(future: TaskloomFuture | None) -> None:
    """Mark `future`, the next run a loop over a map reads, as one that loop caught up with."""
    if isinstance(future, RayFuture):
        future._catching_up = True


def _ready(markers: list[Any], timeout: float = 0) -> list[Any]:
    """Those of `markers` whose runs have returned, asked of Ray in one call, waiting at most
    `timeout` seconds for all of them."""
    ready, _ = ray.wait(markers, num_returns=len(markers), timeout=timeout, fetch_local=False)
    return ready


def _first_incomplete(upstream: Sequence[TaskloomFuture]) -> str | None:
    for future in upstream:
        if isinstance(future, RayFuture) and future._state is None:
            # Only whether it completed matters here; its own state is worked out when it is
            # waited for (doing that here would recurse along a long chain of failures).
            try:
                ray.get(future._marker)
            except Exception:
                return future.task_run_name
        else:
            state = future.wait()
            if state is not None and not state.is_completed():
                return future.task_run_name
    return None
