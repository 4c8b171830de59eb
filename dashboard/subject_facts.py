"""What the service knows of a subject without decrypting anything: for the search results and the subject page."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.holds import Hold, holds_covering
from ledger.models import RecordProjection, SubjectProjection
from state import bookings_mirror, retention_dues
from state.anonymisation import PlannedOperation, operations_for_subject
from state.retention_dues import RetentionDue


@dataclass(frozen=True)
class SubjectSummary:
    """One search result: the subject's ref and status, and its records counted by state."""

    ref: str
    status: str
    records: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SubjectFacts:
    """The subject page's content, none of it personal data."""

    ref: str
    status: str
    records: list[RecordProjection]
    holds: list[Hold]
    dues: list[RetentionDue]
    operations: list[PlannedOperation]


def summaries(session: Session, refs: list[str]) -> list[SubjectSummary]:
    """The search results for these subjects, in the order given."""
    if not refs:
        return []
    statuses = {ref: status for ref, status in session.execute(
        select(SubjectProjection.subject_ref, SubjectProjection.status).where(SubjectProjection.subject_ref.in_(refs)))}
    counts: dict[str, Counter[str]] = {ref: Counter() for ref in refs}
    query = select(RecordProjection.subject_ref, RecordProjection.state, func.count()).where(
        RecordProjection.subject_ref.in_(refs)).group_by(RecordProjection.subject_ref, RecordProjection.state)
    for ref, state, count in session.execute(query):
        counts[ref][state] = count
    return [SubjectSummary(ref, statuses.get(ref, "unknown"), dict(sorted(counts[ref].items()))) for ref in refs]


def facts(session: Session, ref: str, now: datetime) -> SubjectFacts | None:
    """Everything the subject page shows; None for a subject the ledger does not know."""
    known = session.get(SubjectProjection, ref)
    if known is None:
        return None
    records = list(session.scalars(select(RecordProjection).where(RecordProjection.subject_ref == ref)
                                   .order_by(RecordProjection.object_type, RecordProjection.object_id)))
    scope = bookings_mirror.subject_records(session, ref)
    holds = holds_covering(session, now, subject=ref, appointment_ids=list(scope.appointments),
                           business_ids=sorted(scope.business_ids))
    dues = sorted(retention_dues.subject_dues(session, ref), key=lambda due: (due.due_at, due.object_id, due.category))
    return SubjectFacts(ref, known.status, records, holds, dues, operations_for_subject(session, ref))
