"""When each category of a subject's data on one Graph object is due for retention, by the policy.

    retention_due   (object type, Graph id, subject, category) -> due_at, indexed by due_at

The chain records the policy's period and clock for each category (never a date: a due date
counted from an appointment's end would put that appointment's time in the append-only chain for
good); this mutable table holds the dates the retention job reads ("what is due before T?" is
one index range scan on `due_at`). Replaced whenever the object's content is recorded again;
`forget_subject` deletes a subject's rows when it is erased. Migration 0008_chain_content creates it.
"""
from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import NAME, REF, TIME, Base


class RetentionDue(Base):
    """The retention due date of one category of one subject's data on one Graph object."""

    __tablename__ = "retention_due"
    object_type: Mapped[str] = mapped_column(String(40), primary_key=True)     # appointment | customer
    object_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    subject_ref: Mapped[str] = mapped_column(REF, primary_key=True, index=True)
    category: Mapped[str] = mapped_column(NAME, primary_key=True)
    due_at: Mapped[str] = mapped_column(TIME, index=True)


def set_due_dates(session: Session, object_type: str, object_id: str, subject_ref: str, due: Mapping[str, str]) -> None:
    """Replace the subject's due dates on this object with `due` (category id -> due time)."""
    session.execute(delete(RetentionDue).where(
        RetentionDue.object_type == object_type, RetentionDue.object_id == object_id, RetentionDue.subject_ref == subject_ref,
    ))
    session.add_all(RetentionDue(object_type=object_type, object_id=object_id, subject_ref=subject_ref, category=category,
                                 due_at=due_at) for category, due_at in due.items())


def due_before(session: Session, moment: str) -> list[RetentionDue]:
    """Every due date before `moment` (ledger time format), earliest first."""
    return list(session.scalars(select(RetentionDue).where(RetentionDue.due_at < moment).order_by(RetentionDue.due_at)))


def forget_subject(session: Session, subject_ref: str) -> None:
    """Delete the subject's due dates (its data is erased: nothing of it is left to retain)."""
    session.execute(delete(RetentionDue).where(RetentionDue.subject_ref == subject_ref))


def forget(session: Session, object_type: str, object_id: str, subject_ref: str, categories: list[str]) -> None:
    """Delete the subject's due dates of these categories on one object (anonymised: nothing left to retain)."""
    session.execute(delete(RetentionDue).where(
        RetentionDue.object_type == object_type, RetentionDue.object_id == object_id,
        RetentionDue.subject_ref == subject_ref, RetentionDue.category.in_(categories)))


def subject_dues(session: Session, subject_ref: str) -> list[RetentionDue]:
    """Every due date of the subject, on every object."""
    return list(session.scalars(select(RetentionDue).where(RetentionDue.subject_ref == subject_ref)))


def object_dues(session: Session, object_type: str, object_id: str) -> list[RetentionDue]:
    """Every due date on one object, of every subject on it."""
    return list(session.scalars(select(RetentionDue).where(
        RetentionDue.object_type == object_type, RetentionDue.object_id == object_id)))
