"""The `taskloom` logger, its lean console handler, and loggers bound to a run."""

from __future__ import annotations

import atexit
import collections
import contextlib
import logging
import os
import sys
import threading
import time
from typing import Any

logger = logging.getLogger("taskloom")

_configured = False


class ConsoleFormatter(logging.Formatter):
    """`HH:MM:SS.mmm | message`, formatting the clock once a second rather than once a line.

    Two lines are logged per task run, so the stock `%(asctime)s` machinery would be a large
    part of the per-task cost.
    """

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._clock = ""

    _MILLISECONDS = tuple(f".{n:03d}" for n in range(1000))

    def clock(self, created: float) -> str:
        """`HH:MM:SS.mmm` for a timestamp."""
        second = int(created)
        if second != self._second:
            self._clock = time.strftime("%H:%M:%S", time.localtime(second))
            self._second = second
        return self._clock + self._MILLISECONDS[int((created - second) * 1000)]

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.clock(record.created)} | {record.getMessage()}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


class ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The console handler: `ConsoleFormatter` lines, one write each.

    Lines logged from threads other than the main one are written in batches by a writer
    thread, a couple of milliseconds late: each write releases the GIL, and with many worker
    threads logging two lines per task run, handing the GIL around costs more than the tasks.
    The main thread writes at once, so its lines keep their place among what the flow prints,
    except while a batch is gathering: then its lines join the batch, in order.
    """

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self.formatter: ConsoleFormatter = ConsoleFormatter()
        self._pending: collections.deque[str] = collections.deque()
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._write(self.format(record) + "\n")
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def write_line(self, created: float, message: str) -> None:
        """Write one line as `emit` would, for a record made of `created` and `message`."""
        line = self.formatter.clock(created) + " | " + message + "\n"
        if not self._wake.is_set() and threading.current_thread() is _MAIN_THREAD:
            self._write(line)
            return
        self._pending.append(line)
        if not self._wake.is_set():
            self._wake.set()
            if self._writer is None:
                self._start_writer()

    def _write(self, line: str) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self._pending:
                line = self._drain() + line
            self.stream.write(line)
            self.stream.flush()

    def flush_pending(self) -> None:
        """Write the lines still waiting for the writer thread."""
        if self._pending:
            with self.lock:  # type: ignore[union-attr]
                lines = self._drain()
                if lines:
                    self.stream.write(lines)
                    self.stream.flush()

    def _drain(self) -> str:
        pending = self._pending
        lines = []
        while True:
            try:
                lines.append(pending.popleft())
            except IndexError:
                return "".join(lines)

    def _start_writer(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_batches, name="taskloom-log-writer", daemon=True
                )
                self._writer.start()
                atexit.register(self.flush_pending)

    def _write_batches(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(_BATCH_SECONDS)
            self._wake.clear()
            # A closed stream at interpreter exit leaves nothing to tell.
            with contextlib.suppress(Exception):
                self.flush_pending()


_MAIN_THREAD = threading.main_thread()
_BATCH_SECONDS = 0.002


class _Record(logging.LogRecord):
    """A log record built without inspecting the call stack.

    The engine logs twice per task run from code whose location tells the reader nothing, so
    the stack walk behind `%(pathname)s` and `%(lineno)d` is skipped: those read the engine.
    """

    def __init__(self, msg: str, args: tuple[Any, ...]) -> None:
        created = time.time()
        thread = threading.current_thread()
        self.__dict__.update(
            name="taskloom",
            msg=msg,
            args=args,
            levelname="INFO",
            levelno=_INFO,
            pathname=__file__,
            filename="_logging.py",
            module="_logging",
            exc_info=None,
            exc_text=None,
            stack_info=None,
            lineno=0,
            funcName="log_info",
            created=created,
            msecs=(created - int(created)) * 1000,
            relativeCreated=(created - _START) * 1000,
            thread=thread.ident,
            threadName=thread.name,
            processName="MainProcess",
            process=os.getpid(),
            taskName=None,
        )


_START = time.time()
_INFO = logging.INFO
_console: ConsoleHandler | None = None


def log_info(msg: str, *args: Any) -> None:
    """`logger.info(msg, *args)` for the per-task path.

    While the logger is as `ensure_console_logging` left it (our console handler alone, no
    filters), the line is written straight to the console: the output is the same, without a
    record nobody else can see. Otherwise it goes through `logging` as usual (see `_Record`).
    """
    if not logger.isEnabledFor(_INFO):
        return
    handlers = logger.handlers
    console = _console
    if (
        console is not None
        and len(handlers) == 1
        and handlers[0] is console
        and not logger.filters
        and not console.filters
        and console.level <= _INFO
        and not logger.propagate
    ):
        console.write_line(time.time(), msg % args if args else msg)
    else:
        logger.handle(_Record(msg, args))


LEVEL_VARIABLE = "TASKLOOM_LOGGING_LEVEL"
_LEVEL_NAMES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def level_setting(environ: Any = os.environ) -> int:
    """The level `TASKLOOM_LOGGING_LEVEL` names (default INFO): a level name in any case
    (`debug`, `Warning`; also `WARN` and `FATAL`) or a number (`10`). Anything else is a
    `ValueError` naming the variable and what it takes."""
    raw = environ.get(LEVEL_VARIABLE)
    if raw is None or not raw.strip():
        return logging.INFO
    value = raw.strip()
    if value.isdigit():
        return int(value)
    level = logging.getLevelName(value.upper())
    if isinstance(level, int):
        return level
    raise ValueError(
        f"{LEVEL_VARIABLE}={raw!r} is not a log level; use a name ({', '.join(_LEVEL_NAMES)}, "
        "in any case) or a number (10 for DEBUG, 20 for INFO, ...)"
    )


TASK_RUN_LINES_VARIABLE = "TASKLOOM_TASK_RUN_LOGS"


def summarizes_maps(environ: Any = os.environ) -> bool:
    """Whether `TASKLOOM_TASK_RUN_LOGS` asks for `summary` (each task run's lines at DEBUG, one
    INFO line per map when it has finished) rather than `each` (the default: the seeds' lines
    for every task run). Any case; anything else is a `ValueError` naming the variable."""
    value = environ.get(TASK_RUN_LINES_VARIABLE, "each").strip().lower()
    if value in ("each", ""):
        return False
    if value == "summary":
        return True
    raise ValueError(
        f"{TASK_RUN_LINES_VARIABLE}={environ[TASK_RUN_LINES_VARIABLE]!r} is not a setting; use "
        "each (the default: a submitted and a finished line per task run) or summary (those "
        "at DEBUG, and one line per map when it has finished)"
    )


def ensure_console_logging() -> None:
    """Give the `taskloom` logger its console handler, once per process, unless configured.

    An application that attached handlers to the logger itself keeps them alone. The level comes
    from `TASKLOOM_LOGGING_LEVEL` (default INFO).
    """
    global _configured, _console
    if _configured:
        return
    level = level_setting()  # a bad value fails every flow run, not only the first
    _configured = True
    if logger.handlers:
        # The application's handlers get the run lines too, unless it chose a level itself
        # (left unset, the logger would inherit the root logger's WARNING and drop them).
        if logger.level == logging.NOTSET:
            logger.setLevel(level)
        return
    handler = _console = ConsoleHandler(sys.stderr)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


class RunLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger bound to one flow run or task run: its lines say which run they come from."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = self.extra or {}
        kwargs["extra"] = {**extra, **kwargs.get("extra", {})}
        return f"{extra['run_label']} - {msg}", kwargs
