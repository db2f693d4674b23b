"""A task run's log records carried back to the flow's process with its outcome.

An engine that copies what its workers write to the flow's console through a pipeline of its
own (Ray's log monitor) delivers a run's lines after the flow has learnt the run's outcome and
logged how it ended. A worker that runs the call inside `captured_log_records()` keeps the
`taskloom` records the run logs (its own lines, its retries, its errors) instead of writing
them, and sends them back beside the outcome; the flow hands them to its own handlers with
`replay_log_records` before it logs how the run ended, so they print in the order they
happened, in the flow's format, with the time they happened in the worker.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from taskloom._logging import logger

#: A captured record: its `LogRecord` attributes, the message already formatted.
PortableRecord = dict[str, Any]

_capturing: ContextVar[list[PortableRecord] | None] = ContextVar(
    "taskloom_captured_records", default=None
)
_plain_formatter = logging.Formatter()


class _Capture(logging.Filter):
    """On the `taskloom` logger: a record logged while a run captures is kept, not written."""

    def filter(self, record: logging.LogRecord) -> bool:
        records = _capturing.get()
        if records is None:
            return True
        records.append(_portable(record))
        return False


_capture = _Capture()


def _portable(record: logging.LogRecord) -> PortableRecord:
    # Formatted here: the arguments and the traceback may not travel (pickled), their text does.
    attributes = dict(record.__dict__)
    attributes["msg"] = record.getMessage()
    attributes["args"] = None
    if record.exc_info:
        attributes["exc_text"] = record.exc_text or _plain_formatter.formatException(
            record.exc_info
        )
    attributes["exc_info"] = None
    attributes.pop("message", None)
    for key, value in attributes.items():
        if type(value) not in _PLAIN:
            # An `extra=` value that may not pickle: as text, so the run's outcome still can.
            attributes[key] = repr(value)
    return attributes


_PLAIN = frozenset({str, int, float, bool, type(None)})


@contextmanager
def captured_log_records() -> Iterator[list[PortableRecord]]:
    """Keep the `taskloom` records logged meanwhile in this context (the run's thread) in the
    list this yields, rather than writing them; send the list back with the run's outcome."""
    if _capture not in logger.filters:
        logger.addFilter(_capture)
    records: list[PortableRecord] = []
    token = _capturing.set(records)
    try:
        yield records
    finally:
        _capturing.reset(token)


def replay_log_records(records: Iterable[PortableRecord]) -> None:
    """Hand records captured in a worker to this process's `taskloom` handlers (a run that
    captures here, itself running in a worker, keeps them for its own outcome)."""
    for attributes in records:
        logger.handle(logging.makeLogRecord(attributes))
