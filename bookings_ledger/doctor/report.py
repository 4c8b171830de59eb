"""The doctor's checklist: one line per check, ok / warn / FAIL (or skipped), what was found, what to fix."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import Enum


class Status(str, Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    SKIPPED = "skip"


@dataclass(frozen=True)
class Line:
    """One check's verdict; `fix` says what to do (empty when nothing is to be done)."""

    check: str
    status: Status
    found: str
    fix: str = ""

    def render(self) -> str:
        return f"{self.status.value:<4}  {self.check}: {self.found}" + (f"  -> fix: {self.fix}" if self.fix else "")

    def as_dict(self) -> dict[str, str]:
        return {**asdict(self), "status": self.status.value}


def ok(check: str, found: str) -> Line:
    return Line(check, Status.OK, found)


def warn(check: str, found: str, fix: str) -> Line:
    return Line(check, Status.WARN, found, fix)


def fail(check: str, found: str, fix: str) -> Line:
    return Line(check, Status.FAIL, found, fix)


def skipped(check: str, needs: str) -> Line:
    """A check that cannot run because an earlier one failed (that one carries the fix)."""
    return Line(check, Status.SKIPPED, f"skipped: needs {needs}")


def blocks(lines: Iterable[Line]) -> bool:
    """True when anything FAILed: the service cannot run as set up (a skipped line follows a FAIL)."""
    return any(line.status is Status.FAIL for line in lines)
