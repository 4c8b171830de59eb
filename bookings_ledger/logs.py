"""Structured logs: one JSON object a line on stderr, or structlog's console renderer for a terminal.

    configure_process_logging()      # once per process, at start (cli.main, each gunicorn worker)
    bind_to_process(command="worker")   # on every line of the process, from any thread

Every record of the standard library's `logging` (ours: `logging.getLogger(__name__).warning(...)`,
and the libraries') goes through structlog's ProcessorFormatter, so each becomes one object with
`timestamp` (ISO 8601, UTC), `level`, `logger`, `event` and the ids bound in structlog's
contextvars: `request_id` (bookings_ledger/request_ids.py), `job` and `run_id` (jobs/scheduler.py),
`inbox_rows` (jobs/worker.py); and `command` (bookings_ledger/cli.py), bound to the whole process
rather than a context, since gunicorn's and APScheduler's threads each start with an empty one.

Nothing here adds request headers, query strings, client addresses or bodies: log lines carry ids
and exception classes only (privacy-facts §8). An exception attached to a record is reduced to its
class and the frames it passed through; its message can quote a row (PostgreSQL's "Failing row
contains (...)"), and rows hold personal data.
"""
from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor

# Request lines (werkzeug's development server) carry the client's address and the query string.
QUIET_BELOW_WARNING = ("werkzeug",)
# A line per Graph call and per scheduler tick (the metrics count those), and alembic's on every
# schema check of every command, which would bury a command's own answer: shown at DEBUG only.
# The Azure SDK's lines are every Key Vault request and response, headers and all.
QUIET_UNLESS_DEBUG = ("httpx", "apscheduler", "alembic", "azure")


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record arrives, as logging's last resort does:
    a test that swaps stderr, or a daemon that reopens it, still gets the lines."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        pass


_handler: logging.Handler | None = None   # ours on the root logger, replaced by each configure_logging
_process_fields: dict[str, Any] = {}       # kept over a fork: gunicorn's workers inherit the master's


def bind_to_process(**fields: Any) -> None:
    """Add `fields` to every line this process logs from now on, whichever thread logs it."""
    _process_fields.update(fields)


def _add_process_fields(_: Any, __: str, event: EventDict) -> EventDict:
    for name, value in _process_fields.items():
        event.setdefault(name, value)
    return event


def exception_class_only(_: Any, __: str, event: EventDict) -> EventDict:
    """Replace an attached exception by its class and its frames, without its message."""
    exc_info = event.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if exc_info and exc_info[0] is not None:
        event["exception"] = exc_info[0].__name__
        event["frames"] = [f"{frame.filename}:{frame.lineno} in {frame.name}"
                           for frame in traceback.extract_tb(exc_info[2])]
    event.pop("stack_info", None)
    return event


def _log_uncaught(exc_type: type[BaseException], exc: BaseException | None, tb: TracebackType | None) -> None:
    logging.getLogger("bookings_ledger").critical("unhandled exception", exc_info=(exc_type, exc, tb))


def _shared_processors() -> list[Processor]:
    """What every line gets, from structlog's loggers and the standard library's alike."""
    return [
        structlog.contextvars.merge_contextvars,
        _add_process_fields,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        exception_class_only,
    ]


def configure_process_logging() -> None:
    """`configure_logging` with LOG_LEVEL and LOG_FORMAT from the settings; with the defaults when the
    settings are broken (the command that reads them then says what is wrong, in one line)."""
    from config import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError:
        configure_logging()
        return
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)


def configure_logging(level: str = "INFO", log_format: str = "json") -> None:
    """Send every log record from `level` up to stderr, one JSON object a line (or `console`)."""
    global _handler
    shared = _shared_processors()
    renderer: Processor = (structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()) if log_format == "console"
                           else structlog.processors.JSONRenderer())
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.PositionalArgumentsFormatter(),
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _CurrentStderr()
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    ))
    root = logging.getLogger()
    # Only our own handler is replaced: a test's capturing handler on the root logger stays.
    if _handler is not None:
        root.removeHandler(_handler)
    root.addHandler(handler)
    root.setLevel(level)
    _handler = handler
    # An exception nothing caught is one more line, by class and frames: Python's own report
    # would print its message, which may quote personal data.
    sys.excepthook = _log_uncaught
    threading.excepthook = lambda args: _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback)
    for name in QUIET_BELOW_WARNING:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in QUIET_UNLESS_DEBUG:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
