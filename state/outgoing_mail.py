"""Mail the service sends, one row per message, each sent at most once (jobs/mail_sender.py).

    outgoing_mail   one row per message the service owes someone: why (`purpose`, unique, so
                    planning the same message twice plans it once), which template, the request
                    or notice version it is about, the subject whose address it goes to, and its
                    state:

        planned -> drafting -> drafted -> sending -> sent
                      (held: a restricted subject's notice, waiting for the restriction to end)
                      (skipped: nobody to send it to; failed: Graph refused it for good)

`drafting` and `sending` are written (committed) *before* the Graph call they name, with the
time of the claim: a row found in one of them after its claim went stale was left by a process
that died mid-call, and is settled by looking for its draft (the row's id is the draft's marker
header), never by calling again blindly. No personal values here: ids, template and state names,
codes. The address is read from the ledger when the draft is made and lives only in Graph.
Migration 0020_outgoing_mail creates the table.
"""
from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import NAME, REF, TIME, Base
from database.times import format_time

STATES = ("planned", "drafting", "drafted", "sending", "sent", "held", "skipped", "failed")
UNSENT = ("planned", "drafting", "drafted", "sending", "held")
IN_FLIGHT = ("drafting", "sending")


class OutgoingMail(Base):
    """One message the service sends."""

    __tablename__ = "outgoing_mail"
    id: Mapped[str] = mapped_column(REF, primary_key=True)        # also the draft's marker header
    purpose: Mapped[str] = mapped_column(String(200), unique=True)
    template: Mapped[str] = mapped_column(NAME)
    request_id: Mapped[str | None] = mapped_column(REF, index=True)
    recipient_ref: Mapped[str | None] = mapped_column(REF)
    notice_version: Mapped[str | None] = mapped_column(String(64))
    context: Mapped[str] = mapped_column(Text, default="{}")      # JSON: ids, codes, dates; never a value of a person
    state: Mapped[str] = mapped_column(String(16))
    draft_id: Mapped[str | None] = mapped_column(String(512))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[str | None] = mapped_column(TIME)
    created_at: Mapped[str] = mapped_column(TIME)
    updated_at: Mapped[str] = mapped_column(TIME)
    sent_at: Mapped[str | None] = mapped_column(TIME)

    __table_args__ = (
        Index("ix_outgoing_mail_state", "state", "created_at"),
        Index("ix_outgoing_mail_notice", "notice_version", "state"),
    )


@dataclass(frozen=True)
class PlannedMail:
    """One row as plain values."""

    id: str
    purpose: str
    template: str
    request_id: str | None
    recipient_ref: str | None
    notice_version: str | None
    context: dict[str, Any]
    state: str
    draft_id: str | None
    attempts: int
    detail: str | None
    claimed_at: str | None


@dataclass(frozen=True)
class NewMail:
    """A message to plan."""

    purpose: str
    template: str
    request_id: str | None = None
    recipient_ref: str | None = None
    notice_version: str | None = None
    context: Mapping[str, Any] | None = None


def plan(session: Session, mail: NewMail, now: datetime) -> str | None:
    """Plan one message; its id, or None when a message with this purpose was planned already."""
    if session.scalar(select(OutgoingMail.id).where(OutgoingMail.purpose == mail.purpose)) is not None:
        return None
    row = _row(mail, format_time(now))
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None          # another planner committed the same purpose first
    return row.id


def plan_many(session: Session, mails: Iterable[NewMail], now: datetime) -> int:
    """Plan many messages at once (a material notice's), skipping purposes planned already; how many were new.
    The caller serialises planners (`notice register` plans under the chain's lock)."""
    stamp, fresh = format_time(now), {mail.purpose: mail for mail in mails}
    if not fresh:
        return 0
    for chunk in _chunks(list(fresh), 500):
        for known in session.scalars(select(OutgoingMail.purpose).where(OutgoingMail.purpose.in_(chunk))):
            fresh.pop(known)
    session.add_all(_row(mail, stamp) for mail in fresh.values())
    session.flush()
    return len(fresh)


def claim(session: Session, mail_id: str, from_state: str, to_state: str, now: datetime, *,
          stale_before: datetime | None = None) -> bool:
    """Move a row from `from_state` to `to_state` if it is still there (and, given `stale_before`,
    claimed before then); whether this caller won it. A claim into `drafting` or `sending` counts an attempt."""
    query = update(OutgoingMail).where(OutgoingMail.id == mail_id, OutgoingMail.state == from_state)
    if stale_before is not None:
        query = query.where(OutgoingMail.claimed_at < format_time(stale_before))
    values: dict[str, Any] = {"state": to_state, "updated_at": format_time(now)}
    if to_state in IN_FLIGHT:
        values.update(claimed_at=format_time(now), attempts=OutgoingMail.attempts + 1)
    return session.execute(query.values(**values)).rowcount == 1


def record_draft(session: Session, mail_id: str, draft_id: str, now: datetime) -> None:
    """The draft exists in Graph under `draft_id`: the row is `drafted`."""
    _set(session, mail_id, now, state="drafted", draft_id=draft_id, detail=None)


def record_sent(session: Session, mail_id: str, now: datetime, *, detail: str | None = None) -> None:
    """Graph accepted the send (or a settled row's draft was found sent)."""
    _set(session, mail_id, now, state="sent", sent_at=format_time(now), detail=detail)


def set_state(session: Session, mail_id: str, state: str, now: datetime, *, detail: str | None = None) -> None:
    """Move a row to `state` (`detail`: a code, never personal data)."""
    if state not in STATES:
        raise ValueError(f"an outgoing mail's state is one of {STATES}")
    _set(session, mail_id, now, state=state, detail=detail)


def get(session: Session, mail_id: str) -> PlannedMail | None:
    """One row, fresh from the database."""
    row = session.get(OutgoingMail, mail_id, populate_existing=True)
    return None if row is None else _plain(row)


def by_purpose(session: Session, purpose: str) -> PlannedMail | None:
    """The row planned for `purpose`, if any."""
    row = session.scalars(select(OutgoingMail).where(OutgoingMail.purpose == purpose)
                          .execution_options(populate_existing=True)).one_or_none()
    return None if row is None else _plain(row)


def workable(session: Session, *, stale_before: datetime, limit: int, notice_version: str | None = None,
             notices: bool = False) -> list[PlannedMail]:
    """Rows a sender may take up, oldest first: planned, drafted, and in-flight ones whose claim is
    older than `stale_before` (their process died). `notices` picks the material notices (of
    `notice_version`, or of every version) instead of every other message."""
    stale = format_time(stale_before)
    query = select(OutgoingMail).where(
        OutgoingMail.state.in_(("planned", "drafted")) |
        (OutgoingMail.state.in_(IN_FLIGHT) & (OutgoingMail.claimed_at < stale)))
    if notices:
        query = query.where(OutgoingMail.notice_version.is_not(None))
        if notice_version is not None:
            query = query.where(OutgoingMail.notice_version == notice_version)
    else:
        query = query.where(OutgoingMail.notice_version.is_(None))
    query = query.order_by(OutgoingMail.created_at, OutgoingMail.id).limit(limit)
    return [_plain(row) for row in session.scalars(query.execution_options(populate_existing=True))]


def held(session: Session, *, limit: int) -> list[PlannedMail]:
    """Held rows (restricted subjects' notices), oldest first."""
    query = select(OutgoingMail).where(OutgoingMail.state == "held").order_by(OutgoingMail.created_at).limit(limit)
    return [_plain(row) for row in session.scalars(query)]


def planned_for(session: Session, template: str, request_ids: Iterable[str]) -> set[str]:
    """Of these requests, those a message of `template` was planned for already."""
    ids = list(request_ids)
    if not ids:
        return set()
    query = select(OutgoingMail.request_id).where(OutgoingMail.template == template, OutgoingMail.request_id.in_(ids))
    return set(session.scalars(query))


def has_pending(session: Session, request_id: str) -> bool:
    """Whether a message about the request is still to be sent (its requester's address is still needed)."""
    query = select(OutgoingMail.id).where(OutgoingMail.request_id == request_id, OutgoingMail.state.in_(UNSENT))
    return session.scalar(query.limit(1)) is not None


def counts(session: Session, notice_version: str) -> dict[str, int]:
    """A notice version's messages by state."""
    query = (select(OutgoingMail.state, func.count()).where(OutgoingMail.notice_version == notice_version)
             .group_by(OutgoingMail.state))
    return {state: count for state, count in session.execute(query)}


def _row(mail: NewMail, stamp: str) -> OutgoingMail:
    return OutgoingMail(id=secrets.token_hex(16), purpose=mail.purpose, template=mail.template,
                        request_id=mail.request_id, recipient_ref=mail.recipient_ref,
                        notice_version=mail.notice_version, context=json.dumps(dict(mail.context or {}), sort_keys=True),
                        state="planned", attempts=0, created_at=stamp, updated_at=stamp)


def _set(session: Session, mail_id: str, now: datetime, **values: Any) -> None:
    session.execute(update(OutgoingMail).where(OutgoingMail.id == mail_id)
                    .values(updated_at=format_time(now), **values))


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    return (items[start:start + size] for start in range(0, len(items), size))


def _plain(row: OutgoingMail) -> PlannedMail:
    return PlannedMail(id=row.id, purpose=row.purpose, template=row.template, request_id=row.request_id,
                       recipient_ref=row.recipient_ref, notice_version=row.notice_version,
                       context=json.loads(row.context), state=row.state, draft_id=row.draft_id,
                       attempts=row.attempts, detail=row.detail, claimed_at=row.claimed_at)
