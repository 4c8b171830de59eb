"""How much data each category holds under retention, and what is past due: counts of
`retention_due` (state/retention_dues.py) for the dashboard's overview.

Each count is shaped for an index: the category index alone answers "held" (an index-only scan),
and the partial index of pending due dates answers "past due" as one range, so neither reads the
table's rows, however many are held.
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from state.retention_dues import RetentionDue


def held_by_category(session: Session) -> dict[str, int]:
    """Category -> items held (one subject's category on one Graph object, expired or not, until anonymised)."""
    query = select(RetentionDue.category, func.count()).group_by(RetentionDue.category).order_by(RetentionDue.category)
    return {category: count for category, count in session.execute(query)}


def overdue(session: Session, now: str) -> int:
    """Items whose due date is before `now` and that are not yet marked expired (the retention job is behind)."""
    # No GROUP BY: grouped by category, the planner would scan the category index instead of this range.
    return session.execute(select(func.count()).where(RetentionDue.expired_at.is_(None), RetentionDue.due_at < now)).scalar() or 0
