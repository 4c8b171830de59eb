"""Anonymisation operations and their persisted steps: one operation per expired record.

    anonymisation_operations  one row per (object, subject) whose categories must leave Graph and
                              the ledger: the categories, why (retention | child | request), and
                              its state planned -> running -> (held) -> verified -> done | failed.
                              At most one *open* operation per (object type, object id, subject):
                              a partial unique index, so two planners racing cannot make two.
    anonymisation_steps       one row per step of an operation (appointment, customer, event,
                              read-back, keys): pending | sending | done | skipped | failed, the
                              attempts, and the evidence: Graph request ids and status codes.

A step is written `sending` (committed) before its Graph write leaves and `done` with its evidence
after the answer, so a process killed in between finds `sending` on restart and settles it by
reading Graph back (jobs/anonymise), never by sending it again. No personal values here: ids,
category names, states, statuses and request ids only. Migration 0015_anonymisation creates both.
"""
from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import NAME, REF, TIME, Base
from database.times import format_time
from state import bookings_mirror

CAUSES = ("retention", "child", "request")
OBJECT_TYPES = ("appointment", "customer")
OPEN_STATES = ("planned", "running", "held", "verified")
STEP_STATES = ("pending", "sending", "done", "skipped", "failed")
_OPEN_SQL = "state IN ('planned', 'running', 'held', 'verified')"


class AnonymisationOperation(Base):
    """One record's anonymisation."""

    __tablename__ = "anonymisation_operations"
    id: Mapped[str] = mapped_column(REF, primary_key=True)
    subject_ref: Mapped[str] = mapped_column(REF, index=True)
    business_id: Mapped[str] = mapped_column(String(320))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(512))
    categories: Mapped[str] = mapped_column(Text)            # JSON list of category ids, sorted
    cause: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(REF)
    state: Mapped[str] = mapped_column(String(16), index=True)
    # Bumped when a later plan merges new categories in: steps done under an older revision run again.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str | None] = mapped_column(String(200))  # why it failed or is held: ids and codes only
    created_at: Mapped[str] = mapped_column(TIME)
    updated_at: Mapped[str] = mapped_column(TIME)

    __table_args__ = (
        Index("uq_anonymisation_open", "object_type", "object_id", "subject_ref", unique=True,
              sqlite_where=_OPEN_SQL, postgresql_where=_OPEN_SQL),
    )


class AnonymisationStep(Base):
    """One step of an operation, with its evidence."""

    __tablename__ = "anonymisation_steps"
    operation_id: Mapped[str] = mapped_column(REF, primary_key=True)
    step: Mapped[str] = mapped_column(NAME, primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    evidence: Mapped[str] = mapped_column(Text, default="{}")   # JSON: action, graph [{request_id, status}], notes
    updated_at: Mapped[str] = mapped_column(TIME)


@dataclass(frozen=True)
class PlannedOperation:
    """An operation as plain values (usable after its session closed)."""

    id: str
    subject_ref: str
    business_id: str
    object_type: str
    object_id: str
    categories: tuple[str, ...]
    cause: str
    request_id: str | None
    state: str
    created_at: str
    revision: int = 0


@dataclass(frozen=True)
class Step:
    """One persisted step as plain values."""

    name: str
    state: str
    attempts: int
    revision: int
    evidence: dict[str, Any]


def plan_operation(
    session: Session, *, subject_ref: str, business_id: str, object_type: str, object_id: str,
    categories: Iterable[str], cause: str, now: datetime, request_id: str | None = None,
) -> PlannedOperation | None:
    """Plan the anonymisation of one record's categories; idempotent: while an operation for the same
    (object, subject) is open, its categories are merged into it and it is returned. None when the
    mirror no longer links the subject to the object (erased, tombstoned, or anonymised already)."""
    if cause not in CAUSES or object_type not in OBJECT_TYPES:
        raise ValueError(f"cause must be one of {CAUSES}, object_type one of {OBJECT_TYPES}")
    wanted = sorted(set(categories))
    if not wanted:
        raise ValueError("an operation needs at least one category")
    if not _still_linked(session, business_id, object_type, object_id, subject_ref):
        return None
    existing = _open(session, object_type, object_id, subject_ref)
    if existing is not None:
        return _merge(session, existing, wanted, cause, now)
    stamp = format_time(now)
    row = AnonymisationOperation(
        id=secrets.token_hex(16), subject_ref=subject_ref, business_id=business_id, object_type=object_type,
        object_id=object_id, categories=json.dumps(wanted), cause=cause, request_id=request_id, state="planned",
        revision=0, created_at=stamp, updated_at=stamp,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Another planner committed the open operation first: merge into theirs.
        raced = _open(session, object_type, object_id, subject_ref)
        assert raced is not None, "the unique index refused only because an open operation exists"
        return _merge(session, raced, wanted, cause, now)
    return _plain(row)


def open_operations(session: Session, *, limit: int | None = None,
                    subjects: Iterable[str] | None = None) -> list[PlannedOperation]:
    """Operations not yet done or failed (of `subjects` only, when given), oldest first (held ones
    included: the executor re-checks)."""
    query = select(AnonymisationOperation).where(AnonymisationOperation.state.in_(OPEN_STATES)).order_by(
        AnonymisationOperation.created_at, AnonymisationOperation.id)
    if subjects is not None:
        query = query.where(AnonymisationOperation.subject_ref.in_(list(subjects)))
    if limit is not None:
        query = query.limit(limit)
    return [_plain(row) for row in session.scalars(query)]


def operations_for_subject(session: Session, subject_ref: str) -> list[PlannedOperation]:
    """Every operation of the subject, open or finished, oldest first."""
    query = select(AnonymisationOperation).where(AnonymisationOperation.subject_ref == subject_ref).order_by(
        AnonymisationOperation.created_at, AnonymisationOperation.id)
    return [_plain(row) for row in session.scalars(query)]


def operation(session: Session, operation_id: str) -> PlannedOperation | None:
    """One operation, fresh from the database."""
    row = session.get(AnonymisationOperation, operation_id, populate_existing=True)
    return None if row is None else _plain(row)


def states(session: Session, operation_ids: list[str]) -> dict[str, str]:
    """Operation id -> its current state, for the ids given."""
    if not operation_ids:
        return {}
    query = select(AnonymisationOperation.id, AnonymisationOperation.state).where(AnonymisationOperation.id.in_(operation_ids))
    return {row.id: row.state for row in session.execute(query)}


def set_state(session: Session, operation_id: str, state: str, now: datetime, *, detail: str | None = None) -> None:
    """Move an operation to `state` (`detail`: ids and codes only, never personal data)."""
    session.execute(update(AnonymisationOperation).where(AnonymisationOperation.id == operation_id)
                    .values(state=state, detail=detail, updated_at=format_time(now)))


def steps(session: Session, operation_id: str) -> dict[str, Step]:
    """The operation's persisted steps by name."""
    rows = session.scalars(select(AnonymisationStep).where(AnonymisationStep.operation_id == operation_id)
                           .execution_options(populate_existing=True))
    return {row.step: Step(row.step, row.state, row.attempts, row.revision, json.loads(row.evidence)) for row in rows}


def step_versions(session: Session, operation_ids: list[str]) -> dict[tuple[str, str], tuple[str, int, int]]:
    """(operation id, step) -> (state, attempts, revision) as stored now, for the operations given."""
    if not operation_ids:
        return {}
    rows = session.execute(select(AnonymisationStep.operation_id, AnonymisationStep.step, AnonymisationStep.state,
                                  AnonymisationStep.attempts, AnonymisationStep.revision)
                           .where(AnonymisationStep.operation_id.in_(operation_ids)))
    return {(row.operation_id, row.step): (row.state, row.attempts, row.revision) for row in rows}


def record_step(session: Session, operation_id: str, step: str, state: str, now: datetime, *, revision: int,
                evidence: Mapping[str, Any] | None = None) -> None:
    """Write a step's state; `sending` counts an attempt; evidence given replaces what was there."""
    if state not in STEP_STATES:
        raise ValueError(f"step state must be one of {STEP_STATES}")
    row = session.get(AnonymisationStep, (operation_id, step))
    if row is None:
        row = AnonymisationStep(operation_id=operation_id, step=step, attempts=0, evidence="{}")
        session.add(row)
    row.state, row.revision, row.updated_at = state, revision, format_time(now)
    if state == "sending":
        row.attempts = (row.attempts or 0) + 1
    if evidence is not None:
        row.evidence = json.dumps(dict(evidence), sort_keys=True)
    session.flush()


def _still_linked(session: Session, business_id: str, object_type: str, object_id: str, subject_ref: str) -> bool:
    if object_type == "appointment":
        known = bookings_mirror.appointment(session, object_id)
        return known is not None and known.state != bookings_mirror.ERASED and subject_ref in known.subjects.values()
    record = bookings_mirror.customer(session, business_id, object_id)
    return record is not None and record.state != bookings_mirror.ERASED and record.subject_ref == subject_ref


def _open(session: Session, object_type: str, object_id: str, subject_ref: str) -> AnonymisationOperation | None:
    return session.scalars(select(AnonymisationOperation).where(
        AnonymisationOperation.object_type == object_type, AnonymisationOperation.object_id == object_id,
        AnonymisationOperation.subject_ref == subject_ref, AnonymisationOperation.state.in_(OPEN_STATES),
    ).with_for_update()).first()


def _merge(session: Session, row: AnonymisationOperation, wanted: list[str], cause: str, now: datetime) -> PlannedOperation:
    merged = sorted(set(json.loads(row.categories)) | set(wanted))
    if merged != json.loads(row.categories):
        row.categories, row.revision, row.updated_at = json.dumps(merged), row.revision + 1, format_time(now)
        if row.state == "verified":
            row.state = "running"   # verified for fewer categories than it now has
    if cause == "child":
        row.cause = cause           # the strongest cause wins: a child's data goes everywhere
    session.flush()
    return _plain(row)


def _plain(row: AnonymisationOperation) -> PlannedOperation:
    return PlannedOperation(
        id=row.id, subject_ref=row.subject_ref, business_id=row.business_id, object_type=row.object_type,
        object_id=row.object_id, categories=tuple(json.loads(row.categories)), cause=row.cause,
        request_id=row.request_id, state=row.state, created_at=row.created_at, revision=row.revision,
    )
