"""Raising an exception in another thread: the one way to stop Python code running there."""

from __future__ import annotations

import ctypes


def raise_in_thread(ident: int, exc_type: type[BaseException]) -> bool:
    """Raise `exc_type` in the thread `ident` at its next Python instruction.

    A thread blocked in C (a long `time.sleep`, a socket read) sees it once that call returns.
    True if the thread was found.
    """
    found = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(exc_type)
    )
    return bool(found)
