"""Silence the traceback distributed logs when Ctrl-C lands at the start of a blocking call.

`distributed.utils.sync` (2026.8) cancels its coroutine when the waiting thread is interrupted,
but if the interrupt arrives before the event loop has begun that coroutine, the cancelling
callback reads a variable not yet assigned, and tornado logs its `NameError` with a traceback
from deep inside distributed. Nothing is lost (the coroutine had not started, and the flow run
ends Cancelled all the same), so the record says nothing a user can act on: this filter drops
exactly that record and lets every other one through.
"""

from __future__ import annotations

import logging

_TORNADO_CALLBACK_LOGGER = "tornado.application"


class InterruptedSyncFilter(logging.Filter):
    """Drops the `NameError` raised by `distributed.utils.sync`'s cancelling callback."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _is_interrupted_sync_error(record)


def _is_interrupted_sync_error(record: logging.LogRecord) -> bool:
    if not record.exc_info or not isinstance(record.exc_info[1], NameError):
        return False
    tb = record.exc_info[2]
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    frame = tb.tb_frame
    return frame.f_code.co_name == "cancel" and frame.f_globals.get("__name__") == (
        "distributed.utils"
    )


_FILTER = InterruptedSyncFilter()


def quiet_interrupted_sync() -> None:
    """Install the filter on tornado's callback logger, once per process.

    It stays installed: the callback may run on the client's event loop after the runner that
    was interrupted has shut down, and it matches nothing else.
    """
    tornado_logger = logging.getLogger(_TORNADO_CALLBACK_LOGGER)
    if _FILTER not in tornado_logger.filters:
        tornado_logger.addFilter(_FILTER)
