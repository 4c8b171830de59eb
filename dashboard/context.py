"""What every dashboard page works with, built once by the app factory."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import Engine

from config.retention import RetentionPolicy
from ledger.transactions import Ledger

EXTENSION = "bookings_ledger.dashboard"


@dataclass(frozen=True)
class DashboardContext:
    """The settings, the ledger (with its key store: it decrypts and records views) and the policy."""

    settings: Any
    ledger: Ledger
    policy: RetentionPolicy
    clock: Callable[[], datetime]

    @property
    def engine(self) -> Engine:
        return self.ledger.engine


def context() -> DashboardContext:
    """The dashboard context of the app handling the current request."""
    return current_app.extensions[EXTENSION]
