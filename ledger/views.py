"""Audited views of personal data: every clear view is in the chain, and who looked from where, why,
is kept as the viewer's own personal data, encrypted, for its retention period and no longer.

    viewer = Viewer(user_id="entra:<oid>", ip="10.0.0.7", user_agent="Mozilla/5.0 ...")
    shown = read_with_audit(ledger, subject, viewer, purpose="review", reason="Access request 2026-31",
                            category=policy.by_id(VIEW_CATEGORY), start_clock=...)
    shown.values                      # the subject's decrypted values, after the `viewed` entry committed

One view is one transaction, so no value leaves it unless its `viewed` entry is in the chain:
  1. a new subject for the view itself, and `collected` of {viewer_ip, viewer_user_agent,
     view_reason} under the category `usage.audit` (the policy files them there), refs {"view": id}
  2. a `view_audit` row: the view id, that subject, the actor (User.id), the subject viewed, the purpose
  3. the view record's retention clock started (`start_clock`: the due dates are the working
     state's, which the ledger cannot import; the retention job destroys the category when due)
  4. the subject's values decrypted and `viewed` appended: subject, actor, purpose, fields, refs {"view": id}

Why a subject per view and not per viewer: a subject holds one key per category and one value per
field, so a viewer's second view would replace the first one's IP address, and destroying the
`usage.audit` key when the first view's year is up would destroy every later view's too. The
`view_audit` table maps each viewer (User.id) to their views' subjects, to find them all (an access
or erasure request of the viewer). The chain gets ids, codes and field names only: the reason is
free text that may name a person, and the IP address and user agent are the viewer's personal data.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from config.retention import RetentionCategory
from database.base import NAME, REF, TIME, Base
from database.times import format_time
from ledger.entries import lock_head
from ledger.erasure import ErasedSubject
from ledger.transactions import Ledger

VIEW_CATEGORY = "usage.audit"
VIEW_OBJECT = "view"               # the retention due dates' object type of a view record
VIEW_PURPOSE = "view-audit"        # the purpose the viewer's context is collected for
VIEWER_FIELDS = ("viewer_ip", "viewer_user_agent", "view_reason")
# Starts the view record's retention clock in the caller's transaction: (session, view id, view subject, now).
StartClock = Callable[[Session, str, str, datetime], None]


class ViewRefused(ValueError):
    """A view was refused before anything was read or recorded (no reason, an unknown purpose code)."""


class UnknownSubject(LookupError):
    """The ledger knows no such subject: nothing was read or recorded."""


class ViewAudit(Base):
    """One audited view: who (User.id) saw whose data for what purpose; where and why are the
    personal data of `viewer_subject` (migration 0017_view_audit)."""

    __tablename__ = "view_audit"
    view_id: Mapped[str] = mapped_column(REF, primary_key=True)
    viewer_subject: Mapped[str] = mapped_column(REF, index=True)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    viewed_subject: Mapped[str] = mapped_column(REF, index=True)
    purpose: Mapped[str] = mapped_column(NAME)
    viewed_at: Mapped[str] = mapped_column(TIME)
    seq: Mapped[int] = mapped_column(BigInteger)          # the `viewed` entry


@dataclass(frozen=True)
class Viewer:
    """Who is looking, and from where: `user_id` goes in the chain, the rest never does."""

    user_id: str
    ip: str
    user_agent: str


@dataclass(frozen=True)
class ShownData:
    """What one audited view showed, and the entry that records it."""

    view_id: str
    seq: int
    values: dict[str, str]


def read_with_audit(
    ledger: Ledger, subject: str, viewer: Viewer, *, purpose: str, reason: str, category: RetentionCategory,
    start_clock: StartClock,
) -> ShownData:
    """The subject's personal data in clear, returned only once the `viewed` entry (and the viewer's
    context, encrypted) committed. ViewRefused without a reason; ErasedSubject when it was erased."""
    reason = reason.strip()
    if not reason:
        raise ViewRefused("a reason is required to see personal data")
    if not purpose.replace("-", "").isalnum() or len(purpose) > 40:
        raise ViewRefused("the purpose is a short code")
    view_id = secrets.token_hex(16)
    with ledger.transaction() as tx:
        known = tx.subject(subject)
        if known is None:
            raise UnknownSubject(f"no subject {subject}")
        if known.status == "erased":
            raise ErasedSubject(f"subject {subject} was erased")
        viewer_subject = tx.new_subject()
        context = {"viewer_ip": viewer.ip, "viewer_user_agent": viewer.user_agent, "view_reason": reason}
        tx.collect(viewer_subject, context, categories=dict.fromkeys(context, category.id), purpose=VIEW_PURPOSE,
                   refs={VIEW_OBJECT: view_id}, classes={category.id: _class_of(category)})
        now = tx.clock()
        start_clock(tx.session, view_id, viewer_subject, now)
        values = tx.read_personal_data(subject, viewer=viewer.user_id, purpose=purpose, refs={VIEW_OBJECT: view_id})
        seq = lock_head(tx.session).seq      # the `viewed` entry just appended
        tx.session.add(ViewAudit(view_id=view_id, viewer_subject=viewer_subject, actor=viewer.user_id,
                                 viewed_subject=subject, purpose=purpose, viewed_at=format_time(now), seq=seq))
    return ShownData(view_id, seq, values)


def views_of(session: Session, actor: str) -> list[ViewAudit]:
    """Every view an actor made, oldest first: their subjects hold that viewer's IP addresses,
    user agents and reasons (for the viewer's own access or erasure request)."""
    return list(session.scalars(select(ViewAudit).where(ViewAudit.actor == actor).order_by(ViewAudit.viewed_at)))


def view(session: Session, view_id: str) -> ViewAudit | None:
    """One view's audit row."""
    return session.get(ViewAudit, view_id)


def _class_of(category: RetentionCategory) -> dict[str, Any]:
    """What the policy says of the category, as ingestion records it: never a date."""
    return {"fields": list(VIEWER_FIELDS), "purpose": category.purpose, "legal_basis": category.legal_basis,
            "period": category.retention, "clock": category.clock}
