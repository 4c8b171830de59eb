"""How much data each category holds under retention, and what comes due: grouped counts of
`retention_due` (state/retention_dues.py) for the dashboard's overview."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from state.retention_dues import RetentionDue


@dataclass(frozen=True)
class CategoryDues:
    """One data category: items held (one subject's category on one Graph object), those due before
    the horizon, those past due and not yet marked expired, and those expired awaiting anonymisation."""

    category: str
    held: int
    due_soon: int
    overdue: int
    expired: int


def dues_by_category(session: Session, *, now: str, horizon: str) -> list[CategoryDues]:
    """Per category: held (not expired), due in [now, horizon), overdue (due before now, not expired), expired."""
    pending = RetentionDue.expired_at.is_(None)
    counts = select(
        RetentionDue.category,
        func.sum(case((pending, 1), else_=0)),
        func.sum(case((pending & (RetentionDue.due_at >= now) & (RetentionDue.due_at < horizon), 1), else_=0)),
        func.sum(case((pending & (RetentionDue.due_at < now), 1), else_=0)),
        func.sum(case((pending, 0), else_=1)),
    ).group_by(RetentionDue.category).order_by(RetentionDue.category)
    return [CategoryDues(category, *(int(n or 0) for n in numbers)) for category, *numbers in session.execute(counts)]
