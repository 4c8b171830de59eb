"""The privacy mailbox's intake: each new message becomes a draft request, exactly once.

    intake = PrivacyMailbox(ledger, graph.mail, mailbox=settings.PRIVACY_MAILBOX, rules=rules)
    intake.take_notified(message_id, row_ids)   # the worker, for a `created` notification
    intake.catch_up()                           # the scheduler job `privacy-mailbox`, and `missed`

A message is read from Graph (text body, sender, headers), sorted by jobs/mail_triage.py, and
either ignored with a reason (bounces, auto-replies, our own mail) or handed to
`ledger.requests.receive` as a *draft* of the guessed type, channel `email`, received at the
message's own time (the legal clock starts when the mail arrived, not when we read it). What
it became is recorded in `mailbox_messages` in the same transaction, under the chain's lock, so
a notification and the catch-up racing for one message make one request between them.

The catch-up reads the Inbox from the privacy mailbox's watermark (`sync_watermarks`, as a
business's) minus OVERLAP; a pass that took in every message it listed moves the watermark to
its start and closes the mailbox's gaps (a lapsed or removed subscription, `missed`), as a
business's sweep does. Nothing personal is logged: message ids, request ids, reason codes.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from connector.errors import NotFound
from connector.models import MailMessage
from database.times import parse_time
from jobs import gaps
from jobs.mail_triage import guess_type, why_ignored
from ledger.entries import lock_head
from ledger.requests import Intake, RequestRules, receive
from ledger.transactions import Ledger, LedgerTransaction
from state.inbox import finish_rows
from state.mailbox_intake import is_taken, record_taken
from state.watermarks import watermark

log = logging.getLogger(__name__)
# Graph dates a message by its arrival at the server, and may list it a little later: each pass
# looks this far behind the last one's start, and the record of taken messages drops the repeats.
OVERLAP = timedelta(minutes=15)
# With no watermark yet (a new installation): a month back, the GDPR deadline, so requests
# mailed just before the service started are not lost; older ones are past answering in time.
FIRST_LOOKBACK = timedelta(days=31)
# A requester's words are kept whole up to this; a longer mail is cut (the officer reads it in Outlook).
MAX_TEXT = 20_000


class MailReader(Protocol):
    """The part of `connector.mail.Mail` the intake uses."""

    def messages_since(self, user: str, since: datetime) -> Iterator[MailMessage]: ...
    def message(self, user: str, message_id: str) -> MailMessage: ...


@dataclass(frozen=True)
class CatchUp:
    """What one catch-up pass did (counts and gap ids only)."""

    since: str
    listed: int
    requests: int
    ignored: int
    gaps_filled: list[int]

    def as_dict(self) -> dict[str, object]:
        return {"since": self.since, "listed": self.listed, "requests": self.requests, "ignored": self.ignored,
                "gaps_filled": self.gaps_filled}


class PrivacyMailbox:
    """Takes in the privacy mailbox's messages; safe to run in several workers at once."""

    def __init__(self, ledger: Ledger, mail: MailReader, *, mailbox: str, rules: RequestRules) -> None:
        self.ledger, self.mail, self.mailbox, self.rules = ledger, mail, mailbox, rules

    def watches(self, mailbox: str) -> bool:
        """Whether `mailbox` (a subscription's) is the privacy mailbox."""
        return mailbox.lower() == self.mailbox.lower()

    def take_notified(self, message_id: str | None, row_ids: Iterable[int]) -> str:
        """Take in the message a `created` notification names and acknowledge its inbox rows in
        the same transaction; the outcome ("request", a reason code, or "nothing" when the message
        was taken in already or is gone)."""
        message = self._unread(message_id)
        with self.ledger.transaction() as tx:
            outcome = self._take(tx, message) if message is not None else "nothing"
            finish_rows(tx.session, list(row_ids), self.ledger.clock())
        return outcome

    def catch_up(self) -> CatchUp:
        """Take in every message since the watermark (minus OVERLAP); then move the watermark."""
        started = self.ledger.clock()
        with Session(self.ledger.engine) as session:
            mark = watermark(session, self.mailbox)
        since = parse_time(mark) - OVERLAP if mark else started - FIRST_LOOKBACK
        listed = requests = ignored = 0
        for message in self.mail.messages_since(self.mailbox, since):
            listed += 1
            if self._taken(message.id):
                continue
            with self.ledger.transaction() as tx:
                outcome = self._take(tx, message)
            requests += outcome == "request"
            ignored += outcome not in ("request", "taken-already")
        filled = gaps.finish_sweep(self.ledger, self.mailbox, started=started, appointments=listed, changes=requests)
        return CatchUp(since.isoformat(), listed, requests, ignored, filled)

    def reconcile_business(self, mailbox: str) -> CatchUp:
        """The catch-up, under the name lifecycle handling calls a business's sweep by."""
        return self.catch_up()

    def _unread(self, message_id: str | None) -> MailMessage | None:
        # Read before the transaction opens: no Graph call while holding the database.
        if not message_id or self._taken(message_id):
            return None
        try:
            return self.mail.message(self.mailbox, message_id)
        except NotFound:
            return None   # deleted before we read it (an immutable id survives a move): nothing asked

    def _taken(self, message_id: str) -> bool:
        with Session(self.ledger.engine) as session:
            return is_taken(session, self.mailbox, message_id)

    def _take(self, tx: LedgerTransaction, message: MailMessage) -> str:
        # Under the chain's lock, which `receive` takes anyway: two workers with one message are
        # serialised here, and the second finds the first one's row.
        lock_head(tx.session)
        if is_taken(tx.session, self.mailbox, message.id):
            return "taken-already"
        now = self.ledger.clock()
        reason = why_ignored(message, self.mailbox)
        if reason is not None:
            record_taken(tx.session, self.mailbox, message.id, now=now, received_at=message.received_at,
                         ignored_because=reason)
            log.info("privacy mailbox: message %s ignored (%s)", message.id, reason)
            return reason
        words = "\n\n".join(part for part in (message.subject, message.text) if part)[:MAX_TEXT]
        request = receive(tx, Intake(guess_type(message), "email", email=message.sender, text=words or None, draft=True,
                                     received_at=message.received_at or now, message_id=message.id), self.rules)
        record_taken(tx.session, self.mailbox, message.id, now=now, received_at=message.received_at,
                     request_id=request.request_id)
        log.info("privacy mailbox: message %s became draft request %s", message.id, request.request_id)
        return "request"
