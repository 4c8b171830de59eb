"""The numbers behind each chart, read once and used twice: drawn as SVG and shown as a table.

    chart = chart_data("expiries")      # in a request: reads the ledger and the working state
    chart.rows                          # the table beside the image (its text alternative)

Each chart is a set of labelled series over labelled positions (days, or requests). Nothing is
invented to fill an empty chart: with no data it says so, in words, and draws nothing.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from dashboard.context import context
from dashboard.request_deadlines import deadline_summary
from database.engine import read_only
from database.times import format_time
from ledger.projections import RECORD_STATES
from ledger.statistics import entries_by_day
from state.retention_dues import upcoming

WINDOW_DAYS = 30
DAYS = "days"           # stacked bars, one per day
REQUESTS = "requests"   # horizontal bars, one per open request


@dataclass(frozen=True)
class Series:
    """One labelled row of values, one value per position of its chart."""

    label: str
    values: tuple[int, ...]


@dataclass(frozen=True)
class Chart:
    """A chart's title, its positions and series, what its axes mean, and what to say when empty."""

    name: str
    title: str
    layout: str
    positions: tuple[str, ...]
    series: tuple[Series, ...]
    position_label: str
    value_label: str
    empty_text: str
    note: str = ""
    # A word about each position ("" for none), shown as one more column and beside its bar.
    position_notes: tuple[str, ...] = ()
    position_notes_label: str = ""

    @property
    def empty(self) -> bool:
        return not any(any(series.values) for series in self.series)

    @property
    def columns(self) -> tuple[str, ...]:
        notes = (self.position_notes_label,) if self.position_notes else ()
        return (self.position_label, *(series.label for series in self.series), *notes)

    @property
    def rows(self) -> list[tuple[str, ...]]:
        """One row per position that has any value (every request, 0 days left too): the table of
        what the chart draws."""
        return [(position, *(str(series.values[index]) for series in self.series), *self._note(index))
                for index, position in enumerate(self.positions)
                if self.layout == REQUESTS or any(s.values[index] for s in self.series)]

    def note_of(self, index: int) -> str:
        """The word about the position at `index`, "" for none."""
        return self.position_notes[index] if self.position_notes else ""

    def _note(self, index: int) -> tuple[str, ...]:
        return (self.note_of(index),) if self.position_notes else ()


def record_changes() -> Chart:
    """Entries that changed a record's state, per day and kind, over the last WINDOW_DAYS days."""
    today = context().clock().date()
    days = _days(today - timedelta(days=WINDOW_DAYS - 1), WINDOW_DAYS)
    with read_only(context().engine) as connection:
        counts = entries_by_day(connection, RECORD_STATES, since=days[0] + "T00:00:00.000000Z")
    return Chart("record-changes", f"What happened to records, per day (last {WINDOW_DAYS} days)", DAYS, days,
                 _by_position(days, counts, RECORD_STATES), "Day (UTC)", "Ledger entries",
                 "No record was collected, changed, expired, anonymised or erased in the last 30 days.")


def expiries() -> Chart:
    """Retention due dates not yet reached, per day and data category, over the next WINDOW_DAYS days."""
    now = context().clock()
    days = _days(now.date(), WINDOW_DAYS)
    with Session(context().engine) as session:
        counts = [(day, category, count) for category, day, count in
                  upcoming(session, since=format_time(now), until=format_time(now + timedelta(days=WINDOW_DAYS)))]
    categories = sorted({category for _day, category, _count in counts})
    return Chart("expiries", f"Data coming due for retention, per day (next {WINDOW_DAYS} days)", DAYS, days,
                 _by_position(days, counts, categories), "Day (UTC)", "Items due",
                 "Nothing comes due for retention in the next 30 days.")


def request_deadlines() -> Chart:
    """Each open data-subject request and the days left before its deadline in force (extended or
    not; negative: overdue), the nearest deadline first."""
    now = context().clock()
    with Session(context().engine) as session:
        summary = deadline_summary(session, now, context().settings.REQUEST_ALERT_DAYS)
    open_requests = summary.requests
    return Chart("requests", "Open data-subject requests: days left before the deadline", REQUESTS,
                 tuple(row.request_id for row in open_requests),
                 (Series("Days left", tuple(row.days_left for row in open_requests)),), "Request", "Days left",
                 "No data-subject request is open.",
                 note="Deadline: GDPR one month from receipt (Reg. 1182/71), CCPA 45 days, or the extended one "
                      "(GDPR two further months, CCPA 45 more days); negative days are overdue.",
                 position_notes=tuple("extended" if row.extended else "" for row in open_requests),
                 position_notes_label="Extension")


CHARTS: dict[str, Callable[[], Chart]] = {
    "record-changes": record_changes, "expiries": expiries, "requests": request_deadlines,
}


def chart_data(name: str) -> Chart:
    """The named chart's numbers, read now (KeyError for an unknown name)."""
    return CHARTS[name]()


def _days(first: date, count: int) -> tuple[str, ...]:
    return tuple((first + timedelta(days=offset)).isoformat() for offset in range(count))


def _by_position(positions: tuple[str, ...], counts: list[tuple[str, str, int]], labels: Iterable[str]) -> tuple[Series, ...]:
    """(position, label, count) triples as one series per label, zero where a position has none."""
    table = {(position, label): count for position, label, count in counts}
    return tuple(Series(label, tuple(table.get((position, label), 0) for position in positions))
                 for label in labels)
