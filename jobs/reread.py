"""Re-reading the truth about one business's notifications from Bookings, batched.

A notification only says "something changed in this business's calendar" (graph-facts §2.1,
§7.2). For the events of a batch of inbox rows this module finds, in as few HTTP requests as
it can (every read goes out in `$batch` envelopes of 20, through the connector's batched
helpers: nothing here spells a Graph URL):

1. each event not yet matched to an appointment (`mailbox.events_by_ids`, for its time), then
   each appointment whose event is already matched (`bookings.appointments_by_ids`);
2. one round of calendarView windows around the unmatched events' times (merged where they
   overlap; `bookings.calendar_views` follows nextLinks in further rounds); an event whose
   time equals exactly one listed appointment's is matched to it, so the next change to it
   skips rounds 1 and 2;
3. one round of GET appointment by id for what the windows showed new or changed (lists omit
   notes) and for what the ledger holds in a window that the window no longer lists.

404 means gone. Any other failure is charged to the inbox rows that needed that read only. An
appointment the ledger erased is never read again: a notification of its matched event names
nothing, and a window that still lists it (until Graph-side anonymisation) does not ask for it.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from connector import GraphConnector, NotFound
from connector.models import Appointment, Event, ItemResult
from jobs.classify import graph_version
from ledger.transactions import Ledger
from state.bookings_mirror import appointments_for_events, erased_appointments, graph_versions, known_in_window
from database.engine import read_only
from database.times import format_time

EDGE = timedelta(seconds=1)  # widen windows so a zero-length appointment still overlaps its own


@dataclass(frozen=True)
class Change:
    """One inbox row's notification: which event, and what Graph said happened to it."""

    row_id: int
    event_id: str | None
    change_type: str


@dataclass
class Truth:
    """What Graph says now, and which inbox rows each read served or failed."""

    appointments: dict[str, Appointment] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    events: dict[str, str] = field(default_factory=dict)            # newly matched event -> appointment
    concerns: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))   # row -> appointment ids
    failed: dict[int, str] = field(default_factory=dict)            # row -> reason (ids and classes only)


def reread(graph: GraphConnector, ledger: Ledger, business_id: str, changes: Iterable[Change]) -> Truth:
    """The current truth for the appointments behind these notifications of one business."""
    return _Reread(graph, ledger, business_id, list(changes)).run()


class _Reread:
    def __init__(self, graph: GraphConnector, ledger: Ledger, business_id: str, changes: list[Change]) -> None:
        self.graph, self.ledger, self.business = graph, ledger, business_id
        self.truth = Truth()
        self.rows_of_event: dict[str, list[int]] = defaultdict(list)
        for change in changes:
            if change.event_id:
                self.rows_of_event[change.event_id].append(change.row_id)
        self.rows_of_appointment: dict[str, set[int]] = defaultdict(set)
        self.timed: dict[str, tuple[datetime, datetime]] = {}

    def run(self) -> Truth:
        with _snapshot(self.ledger) as session:
            matched = appointments_for_events(session, sorted(self.rows_of_event))
        live = {event_id: appointment_id for event_id, appointment_id in matched.items() if appointment_id is not None}
        for event_id, appointment_id in live.items():
            self._concern(self.rows_of_event[event_id], [appointment_id])
        unmatched = [e for e in self.rows_of_event if e not in matched]
        events = self._first_round(unmatched, sorted(set(live.values())))
        needed = self._windows(events)
        self._read_appointments(sorted(needed - self.truth.appointments.keys() - self.truth.gone))
        return self.truth

    def _first_round(self, event_ids: list[str], appointment_ids: list[str]) -> dict[str, Event]:
        events: dict[str, Event] = {}
        for item in self.graph.mailbox.events_by_ids(self.business, event_ids):
            if item.value is not None:
                events[item.id] = item.value
            elif not isinstance(item.error, NotFound):
                self._fail(self.rows_of_event[item.id], item.error, "event")   # type: ignore[arg-type]
            # An unmatched event that is already gone names no appointment: reconciliation's job.
        self._read_appointments(appointment_ids)
        return events

    def _windows(self, events: dict[str, Event]) -> set[str]:
        """Read the windows around the events; returns the appointment ids to read by id."""
        timed = {e: (ev.start - EDGE, ev.end + EDGE) for e, ev in events.items() if ev.start and ev.end}
        self.timed = timed
        windows = _merge(timed.values())
        listed = self._calendar_views(windows)
        listed_ids = sorted({a.id for items in listed.values() for a in items})
        with _snapshot(self.ledger) as session:
            versions = graph_versions(session, listed_ids)
            erased = erased_appointments(session, listed_ids)
            known = {w: known_in_window(session, self.business, format_time(w[0]), format_time(w[1])) for w in windows}
        needed: set[str] = set()
        for window, items in listed.items():
            vanished = known[window] - {a.id for a in items}
            needed |= vanished | {a.id for a in items if a.id not in erased and versions.get(a.id) != graph_version(a)}
            for event_id, (start, end) in timed.items():
                if window[0] <= start and end <= window[1]:
                    self._match(event_id, events[event_id], items, vanished)
        return needed

    def _match(self, event_id: str, event: Event, items: list[Appointment], vanished: set[str]) -> None:
        assert event.start and event.end
        start, end = event.start - EDGE, event.end + EDGE
        candidates = [a for a in items if a.start and a.end and a.start < end and a.end > start]
        same = [a.id for a in candidates if a.start == event.start and a.end == event.end]
        if len(same) == 1:
            self.truth.events[event_id] = same[0]
        self._concern(self.rows_of_event[event_id], [a.id for a in candidates] + sorted(vanished))

    def _calendar_views(self, windows: list[tuple[datetime, datetime]]) -> dict[tuple[datetime, datetime], list[Appointment]]:
        """The windows Graph listed in full (a failed one fails the rows of the events inside it)."""
        listed: dict[tuple[datetime, datetime], list[Appointment]] = {}
        for window, item in zip(windows, self.graph.bookings.calendar_views(self.business, windows)):
            if item.value is not None:
                listed[window] = list(item.value)
                continue
            inside = [e for e, (start, end) in self.timed.items() if window[0] <= start and end <= window[1]]
            self._fail([r for e in inside for r in self.rows_of_event[e]], item.error, "calendarView")  # type: ignore[arg-type]
        return listed

    def _read_appointments(self, appointment_ids: list[str]) -> None:
        for item in self.graph.bookings.appointments_by_ids(self.business, appointment_ids):
            self._settle(item)

    def _settle(self, item: ItemResult[Appointment]) -> None:
        if item.value is not None:
            self.truth.appointments[item.id] = item.value
        elif isinstance(item.error, NotFound):
            self.truth.gone.add(item.id)
        else:
            self._fail(self.rows_of_appointment[item.id], item.error, "appointment")  # type: ignore[arg-type]

    def _concern(self, rows: Iterable[int], appointment_ids: list[str]) -> None:
        for row in rows:
            self.truth.concerns[row].update(appointment_ids)
            for appointment_id in appointment_ids:
                self.rows_of_appointment[appointment_id].add(row)

    def _fail(self, rows: Iterable[int], error: Exception, read: str) -> None:
        for row in rows:
            self.truth.failed.setdefault(row, failure_reason(error, f"reading {read}"))


def failure_reason(error: Exception, step: str) -> str:
    """Why a row failed, safe to store and log: the exception's class and HTTP status, never its text."""
    status = getattr(error, "status", None)
    return f"{type(error).__name__}{f' (HTTP {status})' if status else ''} {step}"


@contextmanager
def _snapshot(ledger: Ledger) -> Iterator[Session]:
    """A Session over one read-only snapshot: it takes no write lock on SQLite."""
    with read_only(ledger.engine) as connection, Session(bind=connection) as session:
        yield session


def _merge(windows: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
