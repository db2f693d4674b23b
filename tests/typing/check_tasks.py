"""Static checks of the typed public API: mypy runs this file (`nox -s types`); it is not run.

Each `assert_type` states what a type checker must infer for a user's code; each
`type: ignore[...]` marks a call it must reject (strict mypy reports an ignore that is unused).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, assert_type

from taskloom import Task, task


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
