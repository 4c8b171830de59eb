"""The overview's block about data-subject requests: how many are open, and an alert for each one
due within REQUEST_ALERT_DAYS or already overdue (dashboard/request_deadlines.py decides which).

Request ids, types, states and deadlines only: who asked is never on the overview, which the IT
admin sees too.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dashboard.context import context
from dashboard.overview_blocks import Block
from dashboard.request_deadlines import DeadlineSummary, deadline_day, deadline_summary


def requests_block(now: datetime) -> Block:
    """The open requests' block: attention while any is overdue or due within the alert window."""
    settings = context().settings
    with Session(context().engine) as session:
        summary = deadline_summary(session, now, settings.REQUEST_ALERT_DAYS)
    return summary_block(summary, settings.REQUEST_ALERT_DAYS, ZoneInfo(settings.REQUEST_TIME_ZONE))


def summary_block(summary: DeadlineSummary, alert_days: int, zone: ZoneInfo) -> Block:
    overdue, due_soon = summary.overdue, summary.due_soon
    if not summary.requests:
        text = "No data-subject request is open."
    else:
        text = f"{len(summary.requests)} data-subject requests are open."
        if overdue:
            text += f" {len(overdue)} are past their deadline: answer them first, the law's time is up."
        if due_soon:
            text += f" {len(due_soon)} are due within {alert_days} days."
    alerted = overdue + due_soon
    return Block("Data-subject requests", bool(alerted), text, ("Request", "Type", "State", "Deadline", "Days left"),
                 [(request.request_id, request.request_type or "", request.state,
                   f"end of {deadline_day(request.due_at, zone)}" + (" (extended)" if request.extended else ""),
                   str(request.days_left))
                  for request in alerted])
