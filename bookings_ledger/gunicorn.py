"""Running a Flask app factory under gunicorn, from Python rather than a config file.

Each worker builds its own app (and database pool) after the fork: pools must not cross it. Each
also configures its logs there (bookings_ledger/logs.py), and gunicorn's own lines go the same
way, as JSON on stderr, rather than through gunicorn's handlers and format.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from bookings_ledger.logs import configure_process_logging


class _RedactedRequests(logging.Filter):
    """gunicorn's error log names the client's address ("Invalid request from ip=…", whose error
    may quote the request line) and the full URI, query string included ("Error handling request
    …"): keep the fact, drop the rest."""

    PREFIXES = ("Invalid request from ip=", "Error handling request")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for prefix in self.PREFIXES:
            if message.startswith(prefix):
                record.msg, record.args = prefix.removesuffix(" from ip="), ()
        return True


class _StructuredLogger(Logger):
    """gunicorn's logger, its error log handed to the root logger (so to our formatter)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in list(self.error_log.handlers):
            self.error_log.removeHandler(handler)
        self.error_log.addFilter(_RedactedRequests())
        self.error_log.propagate = True


class _Embedded(BaseApplication):
    def __init__(self, factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        configure_process_logging()
        return self._factory()


def _close_worker_app(close: Callable[[Flask], None], _arbiter: Any, worker: Any) -> None:
    # gunicorn also calls this in the master for a worker that vanished, and a worker whose app
    # failed to load holds gunicorn's error app: only a worker's own Flask app is closed.
    app = getattr(worker, "wsgi", None)
    if isinstance(app, Flask):
        close(app)


def serve(factory: Callable[[], Flask], *, binds: list[str], workers: int, threads: int,
          close: Callable[[Flask], None] | None = None) -> None:
    """Serve `factory()` on every address of `binds` in each gunicorn worker until stopped;
    `close(app)` runs as each worker exits, after its last request (the inbox writer drains there)."""
    options: dict[str, Any] = {
        "bind": binds,
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        # Graph counts answers slower than 2.9 s against us; a worker stuck for 30 s is broken.
        "timeout": 30,
        "keepalive": 75,
        # No access log: URLs and client addresses are not needed to run the service.
        "accesslog": None,
        "logger_class": _StructuredLogger,
    }
    if close is not None:
        options["worker_exit"] = partial(_close_worker_app, close)
    _Embedded(factory, options).run()
