"""The one text format of every stored time: UTC, microseconds, a trailing Z.

Stored as text, not as a timestamp type, so SQLite and PostgreSQL store and sort them identically
and the chain's canonical bytes (docs/ledger-format.md) use the same form.
"""
from __future__ import annotations

from datetime import datetime, timezone

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class TimeFormatError(ValueError):
    """A time that cannot be stored: a naive datetime."""


def format_time(moment: datetime) -> str:
    """`moment` in the stored format; naive datetimes are refused."""
    if moment.tzinfo is None:
        raise TimeFormatError("stored times must be timezone-aware")
    return moment.astimezone(timezone.utc).strftime(TIME_FORMAT)


def parse_time(stamp: str) -> datetime:
    """A stored time back as an aware UTC datetime."""
    return datetime.strptime(stamp, TIME_FORMAT).replace(tzinfo=timezone.utc)
