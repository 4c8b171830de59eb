"""The request queue: every data-subject request, filtered by state, type, regime, channel and
deadline, with the days left on each open one.

    filters = QueueFilters.from_args(request.args)    # unknown values fall back to "any"
    rows = queue(session, filters, now, alert_days)

Filters travel in the URL, so they hold codes only (states, types, regimes, channels): the queue
is never searched by who asked. The open requests come nearest deadline first; with closed ones
shown, the newest received first.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.request_deadlines import DUE_SOON, OVERDUE, days_left, urgency
from ledger.deadlines import REGIMES
from ledger.models import RequestProjection
from ledger.requests import CHANNELS, CLOSED_STATES, OPEN_STATES, REQUEST_TYPES, required_level

OPEN, CLOSED, ALL = "open", "closed", "all"
STATE_FILTERS = (OPEN, CLOSED, ALL, *OPEN_STATES, *CLOSED_STATES)
DUE_FILTERS = ("", OVERDUE, DUE_SOON)
QUEUE_LIMIT = 500     # more than a privacy office handles at once; the page says when it cut


@dataclass(frozen=True)
class QueueFilters:
    """What the queue shows: a state group or state, and "" for any type, regime, channel, deadline."""

    state: str = OPEN
    request_type: str = ""
    regime: str = ""
    channel: str = ""
    due: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilters:
        def chosen(name: str, choices: tuple[str, ...], default: str = "") -> str:
            value = args.get(name, default)
            return value if value in choices else default
        return cls(chosen("state", STATE_FILTERS, OPEN), chosen("type", REQUEST_TYPES), chosen("regime", REGIMES),
                   chosen("channel", CHANNELS), chosen("due", DUE_FILTERS))


@dataclass(frozen=True)
class QueueRow:
    """One request as a row of the queue: ids, codes and times."""

    request: RequestProjection
    days_left: int | None        # None once closed
    urgency: str | None
    needed: str                  # the verification degree its type needs to run


def queue(session: Session, filters: QueueFilters, now: datetime, alert_days: int) -> tuple[list[QueueRow], bool]:
    """The requests the filters select, and whether there were more than QUEUE_LIMIT."""
    table = RequestProjection
    query = select(table)
    if filters.state in (OPEN, CLOSED, ALL):
        states = {OPEN: OPEN_STATES, CLOSED: CLOSED_STATES, ALL: OPEN_STATES + CLOSED_STATES}[filters.state]
    else:
        states = (filters.state,)
    query = query.where(table.state.in_(states))
    for column, value in ((table.request_type, filters.request_type), (table.regime, filters.regime),
                          (table.channel, filters.channel)):
        if value:
            query = query.where(column == value)
    if filters.due:    # only open requests have a deadline to meet
        query = query.where(table.state.in_(OPEN_STATES))
    ordered = (table.due_at, table.request_id) if set(states) <= set(OPEN_STATES) else (table.received_at.desc(), table.request_id)
    rows = [_row(request, now, alert_days) for request in session.scalars(query.order_by(*ordered))]
    selected = [row for row in rows if not filters.due or row.urgency == filters.due]
    return selected[:QUEUE_LIMIT], len(selected) > QUEUE_LIMIT


def _row(request: RequestProjection, now: datetime, alert_days: int) -> QueueRow:
    needed = required_level(request.regime or "", request.request_type or "")
    if request.state not in OPEN_STATES or request.due_at is None:
        return QueueRow(request, None, None, needed)
    left = days_left(request.due_at, now)
    return QueueRow(request, left, urgency(left, alert_days), needed)
