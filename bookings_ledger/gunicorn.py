"""Running a Flask app factory under gunicorn, from Python rather than a config file.

Each worker builds its own app (and database pool) after the fork: pools must not cross it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class _Embedded(BaseApplication):
    def __init__(self, factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._factory()


def serve(factory: Callable[[], Flask], *, binds: list[str], workers: int, threads: int) -> None:
    """Serve `factory()` on every address of `binds` in each gunicorn worker until stopped."""
    options = {
        "bind": binds,
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        # Graph counts answers slower than 2.9 s against us; a worker stuck for 30 s is broken.
        "timeout": 30,
        "keepalive": 75,
        # No access log: URLs and client addresses are not needed to run the service.
        "accesslog": None,
    }
    _Embedded(factory, options).run()
