"""Reconciliation: compare each business's appointments in Graph with the ledger, write the differences.

A sweep of one business reads calendarView windows over the horizon (pages streamed, nextLink
followed, never `$top`: the connector does that), hands each appointment whose Graph version stamp
differs from the ledger's to the Ingestor (which writes an entry only when the canonical content
really differs, and refuses tombstoned ids) and skips those the ledger erased (never read
again), then asks the Ingestor which active appointments the ledger holds in the horizon that
Graph did not list: each is read by id (it may have moved outside the horizon) and recorded
gone only on a 404.
Then it streams the business's customer records, hands each to the Ingestor, and records gone
every customer record the ledger holds that the (complete, horizon-free) list no longer has.

When the sweep has finished, the business's completeness watermark moves to the sweep's start
and every gap that ended before it is closed (jobs/gaps.py). A crash leaves the watermark where
it was: the next sweep simply starts again, and the Ingestor makes repeating it harmless.

Memory: appointments and customers are handled one page at a time; only their ids are kept.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from connector.errors import NotFound
from connector.models import Appointment, Customer, ItemResult
from jobs import gaps
from jobs.classify import graph_version
from ledger.transactions import Ledger, LedgerTransaction

DETAIL_BATCH = 20   # one $batch of GET-by-id (Graph's maximum per batch)
VERSION_CHUNK = 200  # appointments whose stored version stamps are read in one query


class BookingsReader(Protocol):
    """The part of `connector.bookings.Bookings` a sweep uses."""

    def calendar_view(self, business_id: str, start: datetime, end: datetime) -> Iterator[Appointment]: ...
    def appointments_by_ids(self, business_id: str, ids: Iterable[str]) -> Iterator[ItemResult[Appointment]]: ...
    def customers(self, business_id: str) -> Iterator[Customer]: ...


class Ingestor(Protocol):
    """The part of `jobs.ingest.Ingestor` a sweep uses: the only writer of appointment and customer entries."""

    def ingest_appointment(self, appointment: Appointment, *, tx: LedgerTransaction | None = None) -> str: ...
    def record_gone(self, business_id: str, appointment_id: str, *, reason: str = "cancelled",
                    tx: LedgerTransaction | None = None) -> str: ...
    def known_appointments(self, business_id: str, start: datetime, end: datetime) -> set[str]: ...
    def graph_versions(self, appointment_ids: list[str]) -> dict[str, str]: ...
    def erased_appointments(self, appointment_ids: list[str]) -> set[str]: ...
    def ingest_customer(self, customer: Customer) -> str: ...
    def record_customer_gone(self, business_id: str, customer_id: str) -> str: ...
    def known_customers(self, business_id: str) -> set[str]: ...


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
    customers: int = 0
    customer_outcomes: Counter[str] = field(default_factory=Counter)
    gaps_filled: list[int] = field(default_factory=list)

    @property
    def changes(self) -> int:
        """How many ledger writes the sweep made (appointments and customer records)."""
        counts = self.outcomes + self.customer_outcomes
        return sum(n for outcome, n in counts.items() if outcome not in ("unchanged", "tombstoned"))

    def as_dict(self) -> dict[str, object]:
        return {"business": self.business_id, "appointments": self.appointments, "outcomes": dict(self.outcomes),
                "customers": self.customers, "customer_outcomes": dict(self.customer_outcomes),
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
        self._sweep_customers(business_id, result)
        result.gaps_filled = gaps.finish_sweep(self.ledger, business_id, started=result.started,
                                               appointments=result.appointments, changes=result.changes)
        return result

    def _sweep_window(self, business_id: str, start: datetime, end: datetime, seen: set[str],
                      result: SweepResult) -> None:
        chunk: list[Appointment] = []
        for appointment in self.bookings.calendar_view(business_id, start, end):
            if appointment.id in seen:
                continue   # it spans two windows: calendarView lists it in both
            seen.add(appointment.id)
            chunk.append(appointment)
            if len(chunk) == VERSION_CHUNK:
                self._compare(business_id, chunk, result)
                chunk = []
        self._compare(business_id, chunk, result)

    def _compare(self, business_id: str, chunk: list[Appointment], result: SweepResult) -> None:
        # An appointment whose Graph version stamp the ledger already holds has the content the
        # ledger holds: it costs no transaction and no read by id (most of a sweep, usually).
        ids = [a.id for a in chunk]
        versions = self.ingestor.graph_versions(ids)
        # An erased appointment Graph still lists (until Graph-side anonymisation) is neither read
        # by id nor handed on: its tombstone would refuse it anyway, after a read that costs budget.
        erased = self.ingestor.erased_appointments(ids)
        if erased:
            result.outcomes["tombstoned"] += len(erased)
            chunk = [a for a in chunk if a.id not in erased]
        changed = [a for a in chunk if versions.get(a.id) is None or versions[a.id] != graph_version(a)]
        result.outcomes["unchanged"] += len(chunk) - len(changed)
        incomplete = [a.id for a in changed if needs_detail(a)]
        complete = [a for a in changed if not needs_detail(a)]
        if complete:
            # One transaction for the chunk: a commit per appointment (a disk flush each) used to
            # be most of a sweep's time after a burst of new bookings.
            with self.ledger.transaction() as tx:
                for appointment in complete:
                    result.outcomes[self.ingestor.ingest_appointment(appointment, tx=tx)] += 1
        for offset in range(0, len(incomplete), DETAIL_BATCH):
            self._ingest_by_id(business_id, incomplete[offset:offset + DETAIL_BATCH], result)

    def _ingest_by_id(self, business_id: str, ids: list[str], result: SweepResult) -> None:
        items = list(self.bookings.appointments_by_ids(business_id, ids))   # read before the transaction opens
        for item in items:
            if item.error is not None and not isinstance(item.error, NotFound):
                raise item.error
        with self.ledger.transaction() as tx:
            for item in items:
                if item.value is None:
                    result.outcomes[self.ingestor.record_gone(business_id, item.id, reason="deleted", tx=tx)] += 1
                else:
                    result.outcomes[self.ingestor.ingest_appointment(item.value, tx=tx)] += 1

    def _settle_unlisted(self, business_id: str, seen: set[str], result: SweepResult) -> None:
        # Held by the ledger, not listed by Graph: deleted, or moved outside the horizon. Only a
        # read by id can tell; `_ingest_by_id` records the first and re-ingests the second.
        start, end = self.horizon.bounds(result.started)
        unlisted = sorted(self.ingestor.known_appointments(business_id, start, end) - seen)
        for offset in range(0, len(unlisted), DETAIL_BATCH):
            self._ingest_by_id(business_id, unlisted[offset:offset + DETAIL_BATCH], result)

    def _sweep_customers(self, business_id: str, result: SweepResult) -> None:
        # The customers list has no horizon and is read to its end (a failed page raises), so
        # a record the ledger holds that it does not list is gone from Bookings.
        listed: set[str] = set()
        for customer in self.bookings.customers(business_id):
            listed.add(customer.id)
            result.customer_outcomes[self.ingestor.ingest_customer(customer)] += 1
        result.customers = len(listed)
        for customer_id in sorted(self.ingestor.known_customers(business_id) - listed):
            result.customer_outcomes[self.ingestor.record_customer_gone(business_id, customer_id)] += 1
