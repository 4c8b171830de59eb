"""How near an open data-subject request is to its deadline, said one way on every surface: the
queue's badges, the request page, the overview's chart and alert block, and /metrics.

    left = days_left(request.due_at, now)          # whole days, rounded down: -1 is overdue
    urgency(left, alert_days)                      # "overdue", "due-soon" or "on-time"
    summary = deadline_summary(session, now, alert_days)     # the counts the overview and /metrics show

`due_at` is the deadline in force (the extended one once a request was extended), so every
surface follows an extension without knowing of it. A draft from the privacy mailbox counts:
its deadline runs from the mail's receipt, confirmed or not.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from database.times import parse_time
from ledger.models import RequestProjection
from ledger.requests import OPEN_STATES

OVERDUE, DUE_SOON, ON_TIME = "overdue", "due-soon", "on-time"


def days_left(due_at: str, now: datetime) -> int:
    """Whole days from `now` to the deadline, rounded down: 0 is due within a day, negative is overdue."""
    return math.floor((parse_time(due_at) - now) / timedelta(days=1))


def deadline_day(due_at: str, zone: ZoneInfo) -> str:
    """The deadline as the law counts it: the last local day (a deadline is the instant that day ends)."""
    return (parse_time(due_at) - timedelta(microseconds=1)).astimezone(zone).date().isoformat()


def urgency(left: int, alert_days: int) -> str:
    """OVERDUE past the deadline, DUE_SOON within `alert_days` of it (REQUEST_ALERT_DAYS), else ON_TIME."""
    if left < 0:
        return OVERDUE
    return DUE_SOON if left <= alert_days else ON_TIME


@dataclass(frozen=True)
class OpenRequest:
    """An open request as the deadline surfaces need it: ids, codes and times only."""

    request_id: str
    request_type: str | None
    state: str
    due_at: str
    extended: bool
    days_left: int
    urgency: str


@dataclass(frozen=True)
class DeadlineSummary:
    """The open requests, most urgent first, and what the alerts count."""

    requests: list[OpenRequest]
    by_state: Counter[str]

    @property
    def overdue(self) -> list[OpenRequest]:
        return [request for request in self.requests if request.urgency == OVERDUE]

    @property
    def due_soon(self) -> list[OpenRequest]:
        return [request for request in self.requests if request.urgency == DUE_SOON]


def deadline_summary(session: Session, now: datetime, alert_days: int) -> DeadlineSummary:
    """Every open request with a deadline, the nearest deadline first."""
    rows = session.execute(
        select(RequestProjection.request_id, RequestProjection.request_type, RequestProjection.state,
               RequestProjection.due_at, RequestProjection.extended_at)
        .where(RequestProjection.state.in_(OPEN_STATES), RequestProjection.due_at.is_not(None))
        .order_by(RequestProjection.due_at, RequestProjection.request_id))
    requests = []
    for request_id, request_type, state, due_at, extended_at in rows:
        left = days_left(due_at, now)
        requests.append(OpenRequest(request_id, request_type, state, due_at, extended_at is not None, left,
                                    urgency(left, alert_days)))
    return DeadlineSummary(requests, Counter(request.state for request in requests))
