"""The emulator's clock: real UTC time plus an offset that the control API can warp."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


class Clock:
    """UTC 'now' that can be advanced or set, so expiry and retention tests need not wait."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Current emulated time (aware, UTC)."""
        return datetime.now(timezone.utc) + self._offset

    def advance(self, seconds: float) -> datetime:
        """Move time forward (or back, if negative) and return the new now."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def set(self, when: datetime) -> datetime:
        """Jump to an absolute instant."""
        with self._lock:
            self._offset = when - datetime.now(timezone.utc)
        return self.now()

    def reset(self) -> None:
        """Back to real time."""
        with self._lock:
            self._offset = timedelta(0)
