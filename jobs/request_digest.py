"""The daily digest: one mail a day to REQUEST_DIGEST_TO listing the requests near or past their deadline.

Planned by the `request-mail` job once per local day (REQUEST_TIME_ZONE) when at least one open
request is due within REQUEST_ALERT_DAYS or overdue (its answer, or under CCPA its receipt
confirmation while no acknowledgement went), and sent like every other message, at most once. It lists ids, types, states and dates: never who asked. The address is an operator's, from
the settings, so the row names no recipient subject.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from database.times import format_time, parse_time
from jobs.mail_sender import Composed, Withheld
from ledger.deadlines import Calendars
from ledger.models import RequestProjection
from ledger.requests import OPEN_STATES
from state import outgoing_mail
from state.outgoing_mail import NewMail, PlannedMail


def plan_digest(session: Session, settings: Any, calendars: Calendars, now: datetime) -> int:
    """Plan today's digest if it is wanted, due, and not planned yet; 1 if planned, else 0."""
    if not settings.REQUEST_DIGEST_TO:
        return 0
    today = calendars.local_date(now)
    horizon = format_time(calendars.end_of(today + timedelta(days=settings.REQUEST_ALERT_DAYS)))
    open_requests = select(RequestProjection).where(RequestProjection.state.in_(OPEN_STATES))
    answers = session.scalars(open_requests.where(RequestProjection.due_at <= horizon))
    # CCPA's receipt confirmation (§7021(a)) has a deadline of its own: a mailed draft the officer
    # has not confirmed yet, or an acknowledgement not sent, is listed against it.
    confirmations = [request for request in session.scalars(open_requests.where(RequestProjection.confirm_by <= horizon))
                     if not _acknowledged(session, request.request_id)]
    listed = sorted([_row(request, calendars, today, request.due_at, request.state) for request in answers] +
                    [_row(request, calendars, today, request.confirm_by, "receipt-not-confirmed")
                     for request in confirmations], key=lambda row: (row["due_on"], row["request_id"]))
    if not listed:
        return 0
    context = {"day": today.isoformat(), "alert_days": settings.REQUEST_ALERT_DAYS, "requests": listed}
    return int(outgoing_mail.plan(session, NewMail(f"digest:{today.isoformat()}", "digest", context=context), now) is not None)


def compose_digest(settings: Any, mail: PlannedMail) -> Composed | Withheld:
    """The digest's address (the setting's, as it is now) and the listing planned."""
    if not settings.REQUEST_DIGEST_TO:
        return Withheld("skipped", "no-digest-address")
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return Composed(settings.REQUEST_DIGEST_TO, {"privacy_page": f"{base}/privacy", "mailbox": settings.PRIVACY_MAILBOX,
                                                 **mail.context})


def deadline_day(calendars: Calendars, stamp: str) -> date:
    """The controller's local day a deadline stamp ends (the stamp is the instant that day ends)."""
    return calendars.local_date(parse_time(stamp) - timedelta(microseconds=1))


def _acknowledged(session: Session, request_id: str) -> bool:
    mail = outgoing_mail.by_purpose(session, f"acknowledgement:{request_id}")
    return mail is not None and mail.state == "sent"


def _row(request: RequestProjection, calendars: Calendars, today: date, due: str | None, state: str) -> dict[str, Any]:
    due_day = deadline_day(calendars, due or "")
    return {"request_id": request.request_id, "request_type": request.request_type, "regime": request.regime,
            "state": state, "due_on": due_day.isoformat(), "days_left": (due_day - today).days}
