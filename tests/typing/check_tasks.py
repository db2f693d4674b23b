"""Static checks of the typed public API: mypy runs this file (`nox -s types`); it is not run.

Each `assert_type` states what a type checker must infer for a user's code; each
`type: ignore[...]` marks a call it must reject (strict mypy reports an ignore that is unused).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, assert_type

from taskloom import Task, task
from taskloom.futures import TaskloomFuture


@task
def add(x: int, y: int) -> int:
    return x + y


@task(retries=2)
async def fetch(url: str) -> bytes:
    return url.encode()


adder: Task[[int, int], int] = add
fetcher: Task[[str], Coroutine[Any, Any, bytes]] = fetch
assert_type(add(1, 2), int)
add("1", 2)  # type: ignore[arg-type]
add(1, 2, 3)  # type: ignore[call-arg]


def futures_are_generic() -> None:
    # Not called: `submit` and `map` need a flow run; only their inferred types are checked.
    future = add.submit(1, 2)
    assert_type(future, TaskloomFuture[int])
    assert_type(future.result(), int)
    assert_type(future.result(raise_on_failure=False), int | Exception)
    assert_type(fetch.submit("u").result(), bytes)
    futures = add.map([1, 2], [3, 4])
    assert_type(futures.result(), list[int])
    assert_type([f.result() for f in futures], list[int])
    assert_type(fetch.map(["u"]).result(), list[bytes])
