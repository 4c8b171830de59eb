"""Reconciliation: compare each business's appointments in Graph with the ledger, write the differences.

A sweep of one business reads calendarView windows over the horizon (pages streamed, nextLink
followed, never `$top`: the connector does that), hands each appointment to the Ingestor (which
writes an entry only when the canonical content really differs, and refuses tombstoned ids), then
asks the Ingestor which appointments the ledger holds in the horizon that Graph did not list:
each is read by id (it may have moved outside the horizon) and recorded gone only on a 404.

When the sweep has finished, the business's completeness watermark moves to the sweep's start
and every gap that ended before it is closed (jobs/gaps.py). A crash leaves the watermark where
it was: the next sweep simply starts again, and the Ingestor makes repeating it harmless.

Memory: appointments are handled one page at a time; only their ids are kept for the sweep.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from connector.errors import NotFound
from connector.models import Appointment, ItemResult
from jobs import gaps
from ledger.api import Ledger

DETAIL_BATCH = 20   # one $batch of GET-by-id (Graph's maximum per batch)


class BookingsReader(Protocol):
    """The part of `connector.bookings.Bookings` a sweep uses."""

    def calendar_view(self, business_id: str, start: datetime, end: datetime) -> Iterator[Appointment]: ...
    def appointments_by_ids(self, business_id: str, ids: Iterable[str]) -> Iterator[ItemResult[Appointment]]: ...


class Ingestor(Protocol):
    """The part of `jobs.ingest.Ingestor` a sweep uses: the only writer of appointment entries."""

    def ingest_appointment(self, appointment: Appointment) -> str: ...
    def record_gone(self, business_id: str, appointment_id: str, *, reason: str = "cancelled") -> str: ...
    def known_appointments(self, business_id: str, start: datetime, end: datetime) -> set[str]: ...


class Progress(Protocol):
    """Where a sweep reports how far it got (a rich bar on a terminal, nothing otherwise)."""

    def begin(self, business_id: str, windows: int) -> None: ...
    def advance(self, appointments: int) -> None: ...


class NoProgress:
    """Progress reporting that shows nothing."""

    def begin(self, business_id: str, windows: int) -> None:
        """Nothing to show."""

    def advance(self, appointments: int) -> None:
        """Nothing to show."""


@dataclass(frozen=True)
class Horizon:
    """The stretch of calendar a sweep compares, cut into calendarView windows."""

    back: timedelta = timedelta(days=365)
    ahead: timedelta = timedelta(days=365)
    window: timedelta = timedelta(days=31)   # a month per calendarView: pages stay few, a retry stays cheap

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """The horizon's [start, end) around `now`."""
        return now - self.back, now + self.ahead

    def windows(self, now: datetime) -> list[tuple[datetime, datetime]]:
        """Consecutive [start, end) windows covering the horizon."""
        start, end = self.bounds(now)
        cuts = []
        while start < end:
            cuts.append((start, min(start + self.window, end)))
            start += self.window
        return cuts


@dataclass
class SweepResult:
    """What one business's sweep found and did (ids and counts only)."""

    business_id: str
    started: datetime
    appointments: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    gaps_filled: list[int] = field(default_factory=list)

    @property
    def changes(self) -> int:
        """How many ledger writes the sweep made."""
        return sum(n for outcome, n in self.outcomes.items() if outcome not in ("unchanged", "tombstoned"))

    def as_dict(self) -> dict[str, object]:
        return {"business": self.business_id, "appointments": self.appointments, "outcomes": dict(self.outcomes),
                "gaps_filled": self.gaps_filled}


def needs_detail(appointment: Appointment) -> bool:
    """Lists may omit customers[] (graph-facts §6.2): such an appointment is read again by id."""
    return not appointment.customers and appointment.legacy_customer is None


class Reconciler:
    """Sweeps businesses and writes only the differences, through the Ingestor."""

    def __init__(self, ledger: Ledger, bookings: BookingsReader, ingestor: Ingestor, *,
                 horizon: Horizon | None = None, progress: Progress | None = None) -> None:
        self.ledger, self.bookings, self.ingestor = ledger, bookings, ingestor
        self.horizon = horizon or Horizon()
        self.progress = progress or NoProgress()

    def reconcile_all(self, business_ids: Sequence[str]) -> list[SweepResult]:
        """Sweep every business in turn."""
        return [self.reconcile_business(business_id) for business_id in business_ids]

    def reconcile_business(self, business_id: str) -> SweepResult:
        """One full sweep of a business; advances its watermark and back-fills its gaps."""
        result = SweepResult(business_id, self.ledger.clock())
        windows = self.horizon.windows(result.started)
        self.progress.begin(business_id, len(windows))
        seen: set[str] = set()
        for start, end in windows:
            before = len(seen)
            self._sweep_window(business_id, start, end, seen, result)
            self.progress.advance(len(seen) - before)
        result.appointments = len(seen)
        self._settle_unlisted(business_id, seen, result)
        result.gaps_filled = gaps.finish_sweep(self.ledger, business_id, started=result.started,
                                               appointments=result.appointments, changes=result.changes)
        return result

    def _sweep_window(self, business_id: str, start: datetime, end: datetime, seen: set[str],
                      result: SweepResult) -> None:
        incomplete: list[str] = []
        for appointment in self.bookings.calendar_view(business_id, start, end):
            if appointment.id in seen:
                continue   # it spans two windows: calendarView lists it in both
            seen.add(appointment.id)
            if needs_detail(appointment):
                incomplete.append(appointment.id)
                if len(incomplete) == DETAIL_BATCH:
                    self._ingest_by_id(business_id, incomplete, result)
                    incomplete = []
            else:
                result.outcomes[self.ingestor.ingest_appointment(appointment)] += 1
        self._ingest_by_id(business_id, incomplete, result)

    def _ingest_by_id(self, business_id: str, ids: list[str], result: SweepResult) -> None:
        for item in self.bookings.appointments_by_ids(business_id, ids):
            if isinstance(item.error, NotFound):
                result.outcomes[self.ingestor.record_gone(business_id, item.id, reason="deleted")] += 1
            elif item.error is not None:
                raise item.error
            else:
                result.outcomes[self.ingestor.ingest_appointment(item.value)] += 1

    def _settle_unlisted(self, business_id: str, seen: set[str], result: SweepResult) -> None:
        # Held by the ledger, not listed by Graph: deleted, or moved outside the horizon. Only a
        # read by id can tell; `_ingest_by_id` records the first and re-ingests the second.
        start, end = self.horizon.bounds(result.started)
        unlisted = sorted(self.ingestor.known_appointments(business_id, start, end) - seen)
        for offset in range(0, len(unlisted), DETAIL_BATCH):
            self._ingest_by_id(business_id, unlisted[offset:offset + DETAIL_BATCH], result)
