"""The clear error for a script that starts worker processes without a `__main__` guard.

Worker processes started with `spawn` (the process pool, Dask's nannies) each first run the
script that started the flow, as the module `__mp_main__`. Without an `if __name__ ==
"__main__":` guard that run calls the flow again, which would start more workers from inside a
worker that is still starting.
"""

from __future__ import annotations

import importlib.machinery
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from taskloom.exceptions import TaskRunnerError

GUARD_HINT = (
    'Guard the code that runs the flow with `if __name__ == "__main__":` so that it runs '
    "only in the process you started, not again in each worker process."
)


def in_spawned_import_of_main() -> bool:
    """Whether this code runs from the top level of a script re-run as `__mp_main__`: a
    spawned child still preparing itself."""
    return _runs_from_top_level_of(lambda module: module.get("__name__") == "__mp_main__")


def check_main_guard(runner_name: str) -> None:
    """Raise `TaskRunnerError` when starting worker processes here would re-run the script."""
    if in_spawned_import_of_main():
        script = sys.modules.get("__mp_main__")
        where = getattr(script, "__file__", None) or "the script"
        raise TaskRunnerError(
            f"{runner_name} was started while a worker process was importing {where}: the "
            f"script runs its flow when imported. {GUARD_HINT}"
        )


def runs_from_unguarded_main() -> bool:
    """Whether this code runs from the top level of the `__main__` script (not from a function
    it calls later), that script has no `__main__` check, and worker processes started with
    `spawn` would run it (`keep_main_out_of_spawned_workers` is not in force): they would run
    the flow again."""
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is _PLACEHOLDER:
        return False  # kept out of the workers: they do not run it
    namespace = vars(main)
    return _runs_from_top_level_of(lambda module: module is namespace) and (
        main_script_lacks_guard()
    )


def _runs_from_top_level_of(is_module: Callable[[dict[str, Any]], bool]) -> bool:
    """Whether a frame calling this one runs the top level of a module whose globals
    `is_module` accepts."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and is_module(frame.f_globals):
            return True
        frame = frame.f_back
    return False


def main_script_lacks_guard() -> bool:
    """Whether the running `__main__` is a script file with no `__main__` check in its source
    (a likely reason for worker processes failing to start)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path:
        return False
    try:
        with open(path, encoding="utf-8") as file:
            source = file.read()
    except (OSError, UnicodeDecodeError):
        return False
    return "__main__" not in source


#: The module a spawned worker runs instead of the script (`keep_main_out_of_spawned_workers`).
EMPTY_MAIN = "taskloom._toolkit.empty_main"

_PLACEHOLDER = importlib.machinery.ModuleSpec(EMPTY_MAIN, None)
# Runners that keep the script out of their workers may overlap (a processes flow with a Dask
# subflow): the placeholder goes only when the last of them is done.
_keep_out_lock = threading.Lock()
_keeping_out = 0


def keep_main_out_of_spawned_workers() -> Callable[[], None]:
    """Until the returned function is called, processes started with `spawn` do not run the
    `__main__` script first; they import an empty module in its place.

    For runners that start worker processes: without it, every worker runs the script again,
    which costs the script's imports in each of them (Dask's alone take about half a second)
    and, in a script without a `__main__` guard, runs the flow again, also in workers the
    engine starts later (adaptive scaling, restarts). `multiprocessing` imports the main module
    by its `__spec__` name when there is one, else by its file; a script has no spec, so one
    naming the empty module is set, and taken away once every caller's returned function has
    been called (calls nest; each returned function acts once). Objects defined in the script
    still reach the workers: cloudpickle sends them by value. A module run with `python -m`
    keeps its spec: workers import it by name, as multiprocessing intends.
    """
    global _keeping_out
    main = sys.modules.get("__main__")
    with _keep_out_lock:
        spec = getattr(main, "__spec__", None)
        if main is None or (spec is not None and spec is not _PLACEHOLDER):
            return lambda: None
        main.__spec__ = _PLACEHOLDER
        _keeping_out += 1
    released = False

    def restore() -> None:
        global _keeping_out
        nonlocal released
        with _keep_out_lock:
            if released:
                return
            released = True
            _keeping_out -= 1
            if _keeping_out == 0 and getattr(main, "__spec__", None) is _PLACEHOLDER:
                main.__spec__ = None

    return restore
