"""Which messages of the privacy mailbox the service has taken in, so each is taken in once.

One row per (mailbox, Graph message id), written in the transaction that records what the
message became: a draft request (`request_id`), or nothing, with the reason it was ignored (a
bounce, an auto-reply, our own mail). A notification and the reconciliation may both bring the
same message; the second finds its row and does nothing. Ids, codes and times only: the
message's sender and text live encrypted in the ledger, under the request's requester.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import TIME, Base
from database.times import format_time

TAKEN = "request"     # the message became a draft request
IGNORED = "ignored"   # a bounce, an auto-reply or our own mail: nothing to do


class MailboxMessage(Base):
    """One message of the privacy mailbox and what it became."""

    __tablename__ = "mailbox_messages"
    mailbox: Mapped[str] = mapped_column(String(320), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))      # why it was ignored
    request_id: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[str | None] = mapped_column(TIME)        # the message's own time
    taken_at: Mapped[str] = mapped_column(TIME, index=True)


def is_taken(session: Session, mailbox: str, message_id: str) -> bool:
    """Whether the message was taken in already (as a request or ignored)."""
    return session.get(MailboxMessage, (mailbox.lower(), message_id)) is not None


def record_taken(session: Session, mailbox: str, message_id: str, *, now: datetime, received_at: datetime | None,
                 request_id: str | None = None, ignored_because: str | None = None) -> None:
    """Record what the message became, in the caller's transaction (the one that made its request)."""
    session.add(MailboxMessage(
        mailbox=mailbox.lower(), message_id=message_id, outcome=IGNORED if ignored_because else TAKEN,
        reason=ignored_because, request_id=request_id, taken_at=format_time(now),
        received_at=format_time(received_at) if received_at else None,
    ))
    session.flush()


def request_for(engine: Engine, mailbox: str, message_id: str) -> str | None:
    """The request a message became, if it became one."""
    with Session(engine) as session:
        row = session.get(MailboxMessage, (mailbox.lower(), message_id))
        return row.request_id if row else None


def outcome_counts(engine: Engine, mailbox: str) -> dict[str, int]:
    """How many messages became requests and how many were ignored, by reason ("request" for the first)."""
    with Session(engine) as session:
        rows = session.execute(
            select(func.coalesce(MailboxMessage.reason, MailboxMessage.outcome), func.count())
            .where(MailboxMessage.mailbox == mailbox.lower()).group_by(func.coalesce(MailboxMessage.reason, MailboxMessage.outcome))
        ).all()
    return {name: count for name, count in rows}
