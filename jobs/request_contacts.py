"""Requesters' contact details are kept only as long as answering needs them.

    forget_request_contacts(ledger, now=now, keep=timedelta(days=30), mail_pending=...)  # -> [request ids]

A request's contact details (the address to answer, the words of the request, the officer's
notes) live under the request's requester subject (ledger/requests.py). Once the request is
closed they are erased like any subject, through `Ledger.erase_subject` (keys destroyed, then
the ciphertexts): REQUEST_CONTACT_DAYS after closing, so a reply or a complaint can still be
answered; an erasure's, or a child's erasure's, as soon as no mail to the requester is still
waiting (the person asked for everything to go). The request's record in the chain, ids and
dates only, stays. A legal hold covering the requester keeps them until it is released.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from database.times import format_time
from ledger.holds import Held
from ledger.models import RequestProjection, SubjectProjection
from ledger.requests import CLOSED_STATES
from ledger.transactions import Ledger

log = logging.getLogger(__name__)
ERASING_TYPES = ("erasure", "child-erasure")
REASON = "request-closed"
# Whether mail to the request's requester is still to be sent (jobs/request_mail.py knows).
MailPending = Callable[[Session, str], bool]


def forget_request_contacts(ledger: Ledger, *, now: datetime, keep: timedelta, mail_pending: MailPending) -> list[str]:
    """Erase the requester subject of every closed request that no longer needs it; the request ids."""
    with ledger.transaction() as tx:
        due = [(request_id, requester) for request_id, requester, request_type, closed_at in _closed_with_contacts(tx.session)
               if format_time(now - keep) >= closed_at
               or (request_type in ERASING_TYPES and not mail_pending(tx.session, request_id))]
    forgotten = []
    for request_id, requester in due:
        try:
            ledger.erase_subject(requester, reason=REASON, refs={"request": request_id})
        except Held:
            log.info("request %s: its requester's contact details are on legal hold; kept", request_id)
            continue
        forgotten.append(request_id)
    return forgotten


def _closed_with_contacts(session: Session) -> list[tuple[str, str, str, str]]:
    """(request id, requester, type, closed at) of closed requests whose requester is not erased yet."""
    query = (select(RequestProjection.request_id, RequestProjection.requester_ref, RequestProjection.request_type,
                    RequestProjection.completed_at)
             .join(SubjectProjection, SubjectProjection.subject_ref == RequestProjection.requester_ref)
             .where(RequestProjection.state.in_(CLOSED_STATES), RequestProjection.completed_at.is_not(None),
                    SubjectProjection.status != "erased")
             .order_by(RequestProjection.completed_at))
    return [tuple(row) for row in session.execute(query)]
