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

Events nobody knows cost a GET each in round 1, and anyone holding a clientState can post a
thousand made-up ids. So beyond EVENT_READS_PER_CYCLE unmatched events for one business, only
that many are read first, as a probe. If at least half of them exist, these are genuine new
bookings (a backlog after a restart, a busy hour) and the rest are read too. If not, rounds 1
and 2 give way to the calendarView windows of the business's whole horizon (a fixed number of
requests however many ids there are), in a HORIZON_READ turn per business (jobs/coalescing.py).
While such a turn runs or rests, rows beyond the threshold are deferred without a probe, and a
row that arrived before a completed horizon read started is settled by it without any read. The
turn ends as done in the transaction that commits what it read (`end_horizon_read`), so a failed
commit is read again.

404 means gone. Any other failure is charged to the inbox rows that needed that read only. An
appointment the ledger erased is never read again: a notification of its matched event names
nothing, and a window that still lists it (until Graph-side anonymisation) does not ask for it.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connector import GraphConnector, NotFound
from connector.models import Appointment, Event, ItemResult
from jobs.classify import graph_version
from jobs.coalescing import Deferred, Rule, covers, finish, last_completed, resting_until, take
from jobs.reconcile import Horizon
from ledger.transactions import Ledger
from state.bookings_mirror import appointments_for_events, erased_appointments, graph_versions, known_in_window
from state.coalescing import Turn
from database.engine import read_only
from database.times import format_time

EDGE = timedelta(seconds=1)  # widen windows so a zero-length appointment still overlaps its own
# One $batch of event reads: what a cycle's new bookings of one business usually need, and the
# probe that tells a backlog of real new bookings from a flood of made-up ids beyond it.
EVENT_READS_PER_CYCLE = 20
# A horizon read lists every appointment of the business (24 calendarView windows by default).
# A minute's rest after one holds a flood of made-up event ids to 240 window reads per 10 minutes
# (Graph allows 10,000 a mailbox), and keeps a genuine burst of new bookings, which crosses the
# threshold too, at most a minute behind: rows that arrived before a read are settled by it.
HORIZON_READ = Rule("horizon-read", hold=timedelta(minutes=10), quiet=timedelta(minutes=1))
VERSION_CHUNK = 500   # appointment ids per query for their stored version stamps
Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class Change:
    """One inbox row's notification: which event, and what Graph said happened to it."""

    row_id: int
    event_id: str | None
    change_type: str
    arrived: datetime


@dataclass
class Truth:
    """What Graph says now, and which inbox rows each read served or failed."""

    appointments: dict[str, Appointment] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    events: dict[str, str] = field(default_factory=dict)            # newly matched event -> appointment
    concerns: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))   # row -> appointment ids
    failed: dict[int, str] = field(default_factory=dict)            # row -> reason (ids and classes only)
    deferred: dict[int, datetime] = field(default_factory=dict)     # row -> when to look again
    horizon_turn: Turn | None = None    # the horizon read's turn, ended by `end_horizon_read`
    horizon_rows: set[int] = field(default_factory=set)             # the rows that horizon read serves


def reread(graph: GraphConnector, ledger: Ledger, business_id: str, changes: Iterable[Change], *,
           horizon: Horizon | None = None) -> Truth:
    """The current truth for the appointments behind these notifications of one business."""
    return _Reread(graph, ledger, business_id, list(changes), horizon or Horizon()).run()


def end_horizon_read(bind: Engine | Session, clock: Callable[[], datetime], truth: Truth, *, done: bool) -> None:
    """End the truth's horizon read turn, if it took one: done only where what it read commits."""
    if truth.horizon_turn is not None:
        finish(bind, clock, HORIZON_READ, truth.horizon_turn, done=done)


class _Reread:
    def __init__(self, graph: GraphConnector, ledger: Ledger, business_id: str, changes: list[Change],
                 horizon: Horizon) -> None:
        self.graph, self.ledger, self.business, self.horizon = graph, ledger, business_id, horizon
        self.truth = Truth()
        self.rows_of_event: dict[str, list[int]] = defaultdict(list)
        self.arrived: dict[str, datetime] = {}   # event -> when its latest row arrived
        for change in changes:
            if change.event_id:
                self.rows_of_event[change.event_id].append(change.row_id)
                self.arrived[change.event_id] = max(change.arrived, self.arrived.get(change.event_id, change.arrived))
        self.rows_of_appointment: dict[str, set[int]] = defaultdict(set)
        self.timed: dict[str, Window] = {}

    def run(self) -> Truth:
        with _snapshot(self.ledger) as session:
            matched = appointments_for_events(session, sorted(self.rows_of_event))
        live = {event_id: appointment_id for event_id, appointment_id in matched.items() if appointment_id is not None}
        for event_id, appointment_id in live.items():
            self._concern(self.rows_of_event[event_id], [appointment_id])
        unmatched = self._not_yet_listed([e for e in self.rows_of_event if e not in matched])
        appointment_ids = sorted(set(live.values()))
        if len(unmatched) > EVENT_READS_PER_CYCLE:
            needed = self._many_unmatched(unmatched, appointment_ids)
        else:
            needed = self._windows(self._first_round(unmatched, appointment_ids))
        self._read_appointments(sorted(needed - self.truth.appointments.keys() - self.truth.gone))
        return self.truth

    def _many_unmatched(self, event_ids: list[str], appointment_ids: list[str]) -> set[str]:
        """More unmatched events than a cycle reads by id: probe, then read them all or the horizon."""
        rows = [r for e in event_ids for r in self.rows_of_event[e]]
        resting = resting_until(self.ledger.engine, HORIZON_READ, self.business, self.ledger.clock())
        if resting is not None:
            # A flood is being answered by a horizon read (or has just been): that turn serves these.
            self.truth.deferred.update(dict.fromkeys(rows, resting))
            self._read_appointments(appointment_ids)
            return set()
        probe = event_ids[:EVENT_READS_PER_CYCLE]
        events = self._first_round(probe, appointment_ids)
        if 2 * len(events) >= len(probe):
            events.update(self._first_round(event_ids[len(probe):], []))
            return self._windows(events)
        return self._horizon_read(rows)

    def _not_yet_listed(self, event_ids: list[str]) -> list[str]:
        # A horizon read that started after an event's rows arrived listed every appointment the
        # event could stand for, and its commit wrote what had changed: those rows need nothing.
        completed = last_completed(self.ledger.engine, HORIZON_READ, self.business)
        return [e for e in event_ids if not covers(completed, self.arrived[e])]

    def _horizon_read(self, rows: list[int]) -> set[str]:
        """List the business's whole horizon for these rows; returns the appointment ids to read by id."""
        try:
            turn = take(self.ledger.engine, self.ledger.clock, HORIZON_READ, self.business)
        except Deferred as deferred:
            self.truth.deferred.update(dict.fromkeys(rows, deferred.until))
            return set()
        self.truth.horizon_turn, self.truth.horizon_rows = turn, set(rows)
        listed = self._calendar_views(self.horizon.windows(turn.started), lambda _window: rows)
        needed, _vanished = self._compare(listed)
        self._concern(rows, sorted(needed))
        return needed

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
        listed = self._calendar_views(_merge(timed.values()), self._rows_inside)
        needed, vanished = self._compare(listed)
        for window, items in listed.items():
            for event_id, (start, end) in timed.items():
                if window[0] <= start and end <= window[1]:
                    self._match(event_id, events[event_id], items, vanished[window])
        return needed

    def _compare(self, listed: dict[Window, list[Appointment]]) -> tuple[set[str], dict[Window, set[str]]]:
        """(ids to read by id: listed new or changed, or held but no longer listed; per window, the latter)."""
        ids = sorted({a.id for items in listed.values() for a in items})
        with _snapshot(self.ledger) as session:
            versions: dict[str, str] = {}
            erased: set[str] = set()
            for first in range(0, len(ids), VERSION_CHUNK):
                versions.update(graph_versions(session, ids[first:first + VERSION_CHUNK]))
                erased |= erased_appointments(session, ids[first:first + VERSION_CHUNK])
            known = {w: known_in_window(session, self.business, format_time(w[0]), format_time(w[1])) for w in listed}
        needed: set[str] = set()
        vanished: dict[Window, set[str]] = {}
        for window, items in listed.items():
            vanished[window] = known[window] - {a.id for a in items}
            needed |= vanished[window] | {a.id for a in items if a.id not in erased and versions.get(a.id) != graph_version(a)}
        return needed, vanished

    def _match(self, event_id: str, event: Event, items: list[Appointment], vanished: set[str]) -> None:
        assert event.start and event.end
        start, end = event.start - EDGE, event.end + EDGE
        candidates = [a for a in items if a.start and a.end and a.start < end and a.end > start]
        same = [a.id for a in candidates if a.start == event.start and a.end == event.end]
        if len(same) == 1:
            self.truth.events[event_id] = same[0]
        self._concern(self.rows_of_event[event_id], [a.id for a in candidates] + sorted(vanished))

    def _calendar_views(self, windows: list[Window], rows_of: Callable[[Window], Iterable[int]]) -> dict[Window, list[Appointment]]:
        """The windows Graph listed in full (a failed one fails `rows_of(window)`)."""
        listed: dict[Window, list[Appointment]] = {}
        for window, item in zip(windows, self.graph.bookings.calendar_views(self.business, windows)):
            if item.value is not None:
                listed[window] = list(item.value)
            else:
                self._fail(rows_of(window), item.error, "calendarView")  # type: ignore[arg-type]
        return listed

    def _rows_inside(self, window: Window) -> list[int]:
        """The rows of the events whose time lies inside the window."""
        inside = [e for e, (start, end) in self.timed.items() if window[0] <= start and end <= window[1]]
        return [r for e in inside for r in self.rows_of_event[e]]

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
