"""Helpers of the doctor tests: the permissions the service needs, the checklist as read back,
and a SQLite database made as the service makes one."""
from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

PRIVACY_MAILBOX = "privacy@contoso.example"
ORIGIN = "doctor.test/ledger"
# The least the service needs (docs/setup-tenant.md): each of these is probed by one call.
NEEDED = ["Bookings.Read.All", "BookingsAppointment.ReadWrite.All", "Calendars.Read", "Calendars.ReadWrite",
          "MailboxSettings.Read", "User.Read.All", "Mail.ReadWrite", "Mail.Send"]


@dataclass
class Checklist:
    """What one run of `bookings-ledger doctor --json` printed, and its exit code."""

    code: int
    output: str
    checks: list[dict[str, str]]

    def failed(self) -> list[dict[str, str]]:
        return [line for line in self.checks if line["status"] == "FAIL"]

    def line(self, check: str) -> dict[str, str]:
        return next(line for line in self.checks if line["check"] == check)

    def missing_permissions(self) -> set[str]:
        return {line["check"].removeprefix("permission ") for line in self.failed()
                if line["check"].startswith("permission ") and "MISSING" in line["found"]}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def private_sqlite(path: Path, *, migrated: bool) -> str:
    """A SQLite database made as the service makes one (var/ 0700, the file 0600)."""
    from database.engine import create_ledger_engine, upgrade

    url = f"sqlite:///{path}"
    engine = create_ledger_engine(url)
    try:
        if migrated:
            upgrade(engine)
        else:
            with engine.connect():
                pass
    finally:
        engine.dispose()
    return url
