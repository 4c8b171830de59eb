"""When each category of a subject's data on one Graph object is due for retention, by the policy.

    retention_due   (object type, Graph id, subject, category) -> business, clock start, period,
                    due_at, expired_at; "what is due before T and not yet expired?" is one range
                    scan on a partial index of due_at (where expired_at is null)

The chain records the policy's period and clock for each category (never a date: a due date
counted from an appointment's end would put that appointment's time in the append-only chain for
good); this mutable table holds the dates the retention job reads. Each row keeps what its date is
computed from (the clock's start, the period in force for it, the business whose calendar counts
the days), so a stricter policy or a business's time zone re-dates held data without Graph. A row
whose clock has not started (a `cancellation` clock while the appointment stands) is due at NEVER,
the greatest stored time: every "due before T" and "not yet due at T" reads it right as it is.
Replaced whenever the object's content is recorded again; `forget_subject` deletes a subject's
rows when it is erased. Migrations 0008_chain_content and 0014_retention create it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo

from sqlalchemy import Index, String, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from config.retention import RetentionCategory, parse_duration, period_ends
from database.base import NAME, REF, TIME, Base
from database.times import format_time, parse_time

ZoneOf = Callable[[str], tzinfo]
NEVER = "9999-12-31T23:59:59.999999Z"   # the due date of a clock not started


class RetentionDue(Base):
    """The retention due date of one category of one subject's data on one Graph object."""

    __tablename__ = "retention_due"
    object_type: Mapped[str] = mapped_column(String(40), primary_key=True)     # appointment | customer
    object_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    subject_ref: Mapped[str] = mapped_column(REF, primary_key=True, index=True)
    category: Mapped[str] = mapped_column(NAME, primary_key=True, index=True)
    business_id: Mapped[str | None] = mapped_column(String(320), index=True)
    clock_start: Mapped[str | None] = mapped_column(TIME)
    period: Mapped[str | None] = mapped_column(String(32))
    due_at: Mapped[str] = mapped_column(TIME, index=True)
    expired_at: Mapped[str | None] = mapped_column(TIME)

    __table_args__ = (
        # Expired rows stay until the anonymiser is done with them; leaving them out of the index
        # keeps each evaluation's scan to what is newly due, however many have expired before.
        Index("ix_retention_due_pending", "due_at", sqlite_where=expired_at.is_(None),
              postgresql_where=expired_at.is_(None)),
    )


@dataclass(frozen=True)
class Clock:
    """Where one category's retention period starts (None: not yet) and how long it is; a clock
    `from_first` recording (the policy's `collected`) keeps the start a row already has."""

    start: datetime | None
    period: str
    from_first: bool = False


def set_due_dates(
    session: Session, object_type: str, object_id: str, subject_ref: str, clocks: Mapping[str, Clock], *,
    business_id: str, zone: tzinfo,
) -> None:
    """Replace the subject's due dates on this object with `clocks` (category id -> clock), counted on
    `zone`'s calendar. A category already held keeps the shorter of its period and the new one: a
    longer policy applies to data collected from then on, never to data already held."""
    old = {row.category: row for row in session.scalars(select(RetentionDue).where(
        RetentionDue.object_type == object_type, RetentionDue.object_id == object_id,
        RetentionDue.subject_ref == subject_ref))}
    session.execute(delete(RetentionDue).where(
        RetentionDue.object_type == object_type, RetentionDue.object_id == object_id, RetentionDue.subject_ref == subject_ref,
    ))
    session.flush()
    rows = []
    for category, clock in clocks.items():
        before = old.get(category)
        period = _shorter(before.period, clock.period) if before is not None and before.period else clock.period
        start = clock.start
        if clock.from_first and before is not None and before.clock_start is not None:
            start = parse_time(before.clock_start)
        rows.append(RetentionDue(
            object_type=object_type, object_id=object_id, subject_ref=subject_ref, category=category,
            business_id=business_id, clock_start=format_time(start) if start else None, period=period,
            due_at=format_time(period_ends(period, start, zone)) if start else NEVER,
            expired_at=before.expired_at if before is not None else None,
        ))
    # An expired category absent from this read stays recorded as expired: Graph may show the same
    # data again (a field anonymisation cannot change, a partial read), and it must not start a
    # fresh clock and expire a second time (the soak found notes doing that).
    rows += [RetentionDue(object_type=object_type, object_id=object_id, subject_ref=subject_ref, category=category,
                          business_id=row.business_id, clock_start=row.clock_start, period=row.period, due_at=row.due_at,
                          expired_at=row.expired_at)
             for category, row in old.items() if category not in clocks and row.expired_at is not None]
    session.add_all(rows)


def start_service_clock(session: Session, object_type: str, object_id: str, subject_ref: str,
                        category: RetentionCategory, start: datetime) -> None:
    """Start the clock of a record the service keeps itself (a dashboard view record: ledger/views.py),
    by its category's period. It belongs to no business, so its days are counted in UTC."""
    set_due_dates(session, object_type, object_id, subject_ref, {category.id: Clock(start, category.retention, from_first=True)},
                  business_id="", zone=timezone.utc)


def start_clocks(session: Session, object_type: str, object_id: str, categories: Iterable[str], start: datetime,
                 zone: tzinfo) -> int:
    """Start the clocks not yet started of these categories on the object (e.g. at its cancellation)."""
    rows = session.scalars(select(RetentionDue).where(
        RetentionDue.object_type == object_type, RetentionDue.object_id == object_id,
        RetentionDue.category.in_(list(categories)), RetentionDue.clock_start.is_(None))).all()
    for row in rows:
        row.clock_start = format_time(start)
        row.due_at = format_time(period_ends(row.period, start, zone)) if row.period else NEVER
    return len(rows)


def pending_before(session: Session, moment: str, *, limit: int | None = None) -> list[RetentionDue]:
    """The due dates before `moment` not yet expired, earliest first (a range scan of the partial index)."""
    query = select(RetentionDue).where(RetentionDue.expired_at.is_(None), RetentionDue.due_at < moment) \
        .order_by(RetentionDue.due_at)
    return list(session.scalars(query.limit(limit) if limit else query))


def expired_of(session: Session, object_type: str) -> list[tuple[str, str, str]]:
    """(object id, subject, category) of the expired rows of one object type still here: for data the
    service holds itself (a view record), which the retention job destroys and then forgets."""
    query = select(RetentionDue.object_id, RetentionDue.subject_ref, RetentionDue.category).where(
        RetentionDue.object_type == object_type, RetentionDue.expired_at.is_not(None)).order_by(RetentionDue.expired_at)
    return [(object_id, subject, category) for object_id, subject, category in session.execute(query)]


def mark_expired(session: Session, object_type: str, object_id: str, subject_ref: str, categories: Iterable[str],
                 now: str) -> list[str]:
    """Mark these categories of the subject's rows on the object expired, unless another run did
    already; the categories this call marked."""
    # Equalities on the primary key's columns, not a row-value IN list: SQLite would scan the table for that.
    marked = session.execute(update(RetentionDue).where(
        RetentionDue.object_type == object_type, RetentionDue.object_id == object_id,
        RetentionDue.subject_ref == subject_ref, RetentionDue.category.in_(list(categories)),
        RetentionDue.expired_at.is_(None)).values(expired_at=now).returning(RetentionDue.category))
    return sorted(marked.scalars())


def redate_business(session: Session, business_id: str, zone: tzinfo) -> int:
    """Count the business's pending due dates again on `zone`'s calendar (its zone was learned or changed)."""
    rows = session.scalars(select(RetentionDue).where(
        RetentionDue.business_id == business_id, RetentionDue.expired_at.is_(None),
        RetentionDue.clock_start.is_not(None), RetentionDue.period.is_not(None))).all()
    for row in rows:
        row.due_at = format_time(period_ends(row.period, parse_time(row.clock_start), zone))
    return len(rows)


def shorten_category(session: Session, category: str, period: str, zone_of: ZoneOf) -> int:
    """Apply a stricter period to the category's data already held (never a longer one); how many rows."""
    shorter = parse_duration(period)
    changed = 0
    for row in session.scalars(select(RetentionDue).where(RetentionDue.category == category,
                                                           RetentionDue.expired_at.is_(None))):
        if row.period is not None and parse_duration(row.period) <= shorter:
            continue
        row.period = period
        if row.clock_start is not None:
            row.due_at = format_time(period_ends(period, parse_time(row.clock_start), zone_of(row.business_id or "")))
        changed += 1
    return changed


def unknown_zone_businesses(session: Session, moment: str, known: Callable[[str], bool]) -> set[str]:
    """Businesses with due dates before `moment` whose time zone is not yet known (`known`)."""
    found = session.scalars(select(RetentionDue.business_id).where(
        RetentionDue.expired_at.is_(None), RetentionDue.due_at < moment).distinct())
    return {b for b in found if b and not known(b)}


def upcoming(session: Session, *, since: str = "", until: str) -> list[tuple[str, str, int]]:
    """(category, UTC day, count) of the due dates in [since, until) not yet expired, by day."""
    day = func.substr(RetentionDue.due_at, 1, 10)
    query = select(RetentionDue.category, day, func.count()).where(
        RetentionDue.expired_at.is_(None), RetentionDue.due_at >= since, RetentionDue.due_at < until) \
        .group_by(RetentionDue.category, day).order_by(day, RetentionDue.category)
    return [(category, when, count) for category, when, count in session.execute(query)]


def forget_subject(session: Session, subject_ref: str) -> None:
    """Delete the subject's due dates (its data is erased: nothing of it is left to retain)."""
    session.execute(delete(RetentionDue).where(RetentionDue.subject_ref == subject_ref))


def forget(session: Session, object_type: str, object_id: str, subject_ref: str, categories: list[str]) -> None:
    """Delete the subject's due dates of these categories on one object (anonymised: nothing left to retain)."""
    session.execute(delete(RetentionDue).where(
        RetentionDue.object_type == object_type, RetentionDue.object_id == object_id,
        RetentionDue.subject_ref == subject_ref, RetentionDue.category.in_(categories)))


def forget_object(session: Session, object_type: str, object_id: str, subject_ref: str) -> None:
    """Delete every due date of the subject on one object (it is gone from Graph: the expired rows
    kept against a re-read have nothing left to guard)."""
    session.execute(delete(RetentionDue).where(
        RetentionDue.object_type == object_type, RetentionDue.object_id == object_id,
        RetentionDue.subject_ref == subject_ref))


def subject_dues(session: Session, subject_ref: str) -> list[RetentionDue]:
    """Every due date of the subject, on every object."""
    return list(session.scalars(select(RetentionDue).where(RetentionDue.subject_ref == subject_ref)))


def object_dues(session: Session, object_type: str, object_id: str) -> list[RetentionDue]:
    """Every due date on one object, of every subject on it."""
    return list(session.scalars(select(RetentionDue).where(
        RetentionDue.object_type == object_type, RetentionDue.object_id == object_id)))


def _shorter(a: str, b: str) -> str:
    return a if parse_duration(a) <= parse_duration(b) else b
