"""The soak's time warp: simulated time = real time + an offset kept in a file.

The driver (`Warp.advance`) only ever moves the offset forward; every service process reads it
through `WarpedClock.now`, which re-reads the file only when its modification time changed (a
stat per call, not a read), so all processes agree on simulated time within one step.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

OFFSET_FILE_SETTING = "SOAK_TIME_OFFSET_FILE"


class Warp:
    """The driver's side: owns the offset file and moves it forward."""

    def __init__(self, path: Path, start_offset: timedelta = timedelta(0)) -> None:
        self.path, self.offset = path, start_offset
        self._write()

    def advance(self, by: timedelta) -> None:
        self.offset += by
        self._write()

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def _write(self) -> None:
        # Written aside and renamed, so a reader never sees half a number.
        partial = self.path.with_suffix(".tmp")
        partial.write_text(f"{self.offset.total_seconds():.6f}\n")
        os.replace(partial, self.path)


class WarpedClock:
    """A service process's side: the current simulated time, from the offset file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._offset = timedelta(0)

    def offset(self) -> timedelta:
        status = os.stat(self.path)
        stamp = (status.st_ino, status.st_mtime_ns)   # each write is a new file (a rename)
        if stamp != self._stamp:
            self._offset = timedelta(seconds=float(self.path.read_text()))
            self._stamp = stamp
        return self._offset

    def now(self, tz: timezone | None = None) -> datetime:
        now = datetime.now(timezone.utc) + self.offset()
        return now if tz is None else now.astimezone(tz)
