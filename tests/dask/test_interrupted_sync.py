"""Ctrl-C at the start of a blocking client call prints no traceback from inside distributed."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

from taskloom_dask._interrupted_sync import InterruptedSyncFilter

# The loop is kept busy so that the signal lands while `sync` waits for a coroutine that has
# not begun: the moment at which distributed's cancelling callback fails.
_INTERRUPT_BEFORE_THE_COROUTINE_BEGINS = """
import os, signal, threading, time
from distributed.utils import LoopRunner, sync
from taskloom_dask._interrupted_sync import quiet_interrupted_sync

if {quiet}:
    quiet_interrupted_sync()
runner = LoopRunner(asynchronous=False)
runner.start()
runner.loop.add_callback(time.sleep, 0.5)
threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()

async def nothing():
    return 1

try:
    sync(runner.loop, nothing)
except KeyboardInterrupt:
    print("interrupted")
time.sleep(1)  # the loop runs the cancelling callback
runner.stop()
"""


def _interrupt_before_the_coroutine_begins(quiet: bool) -> str:
    script = _INTERRUPT_BEFORE_THE_COROUTINE_BEGINS.format(quiet=quiet)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout + done.stderr


def test_an_interrupt_before_a_blocking_call_begins_prints_no_traceback() -> None:
    output = _interrupt_before_the_coroutine_begins(quiet=True)
    assert "interrupted" in output
    assert "Traceback" not in output


def test_the_filter_passes_every_other_tornado_error() -> None:
    try:
        raise NameError("a callback's own mistake")
    except NameError:
        record = logging.LogRecord(
            "tornado.application",
            logging.ERROR,
            __file__,
            1,
            "Exception in callback",
            (),
            sys.exc_info(),
        )
    assert InterruptedSyncFilter().filter(record)


def test_the_filter_passes_records_without_an_exception() -> None:
    record = logging.LogRecord(
        "tornado.application", logging.ERROR, __file__, 1, "Exception in callback", (), None
    )
    assert InterruptedSyncFilter().filter(record)
