"""Sending a planned message at most once: draft, record, send, record (state/outgoing_mail.py).

    sender = MailSender(ledger, graph.mail, mailbox, templates, composers)
    sender.deliver(mail)     # -> "sent" | "skipped" | "held" | "failed" | "unknown" | "raced"

Graph's sendMail answers 202 with no id and cannot be asked afterwards whether it went, so it is
never used (privacy-facts §1.8). Each message instead goes through four recorded steps:

    planned  --claim-->  drafting  --create_draft(marker=row id)-->  drafted (draft id recorded)
    drafted  --claim-->  sending   --send_draft-->                    sent + `message-sent` entry

Every claim is committed before the Graph call it announces, so a process killed anywhere leaves
the row in a state that says what might have happened. After CLAIM_TIMEOUT the next run settles
it by looking for the row's draft (its id is the draft's `x-bookings-ledger-message` header):

    drafting, draft found      the draft was made: record it, then send it
    drafting, none found       it was never made: plan it again
    sending,  draft found      still in Drafts, so the send never happened: send it
    sending,  none found       it left Drafts, so Graph sent it: record it sent, never send again

A timeout on a POST (OutcomeUnknown) is settled the same way, never re-sent. Throttling is the
connector's to wait out (Retry-After); when its budget is spent the row goes back to where it was
and Throttled stops the run, which the next one resumes.

What a message says is composed when its draft is made (a composer per template): the address
is read from the ledger then (recorded as `viewed`) and secrets such as a verification code are
minted then, in the transaction of the claim, so none of them is ever stored in the working
state and a draft that exists always carries the secret in force.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from config.mail_templates import MailTemplates
from connector.errors import (AuthenticationFailed, GraphError, InvalidRequest, NotFound, OutcomeUnknown,
                              PermissionMissing, Throttled, Unavailable)
from ledger.transactions import Clock, Ledger, LedgerTransaction
from state import outgoing_mail
from state.outgoing_mail import PlannedMail

log = logging.getLogger(__name__)
# Longer than the connector's whole retry budget (RetryPolicy.max_total, 5 minutes) and than
# Exchange takes to move a sent draft out of Drafts, so a claim this old belongs to a dead process.
CLAIM_TIMEOUT = timedelta(minutes=10)
# Answers that say Graph did nothing, and that the next message would get too: the row goes back
# and the error stops the run (throttling past the retry budget, a lost credential or permission).
_REFUSED = (Throttled, AuthenticationFailed, PermissionMissing)


class DraftMail(Protocol):
    """The part of connector.mail.Mail the sender uses."""

    def create_draft(self, user: str, to: str, subject: str, text: str, *, marker: str) -> str: ...
    def find_draft(self, user: str, marker: str) -> str | None: ...
    def send_draft(self, user: str, draft_id: str) -> None: ...


@dataclass(frozen=True)
class Composed:
    """What a message says: the address it goes to and its template's placeholders."""

    address: str
    context: Mapping[str, Any]


@dataclass(frozen=True)
class Withheld:
    """Why a message is not sent now: `skipped` for good (nobody to send it to) or `held` for later."""

    state: str
    detail: str


# Given the claim's transaction and the row: the message, or why it is withheld.
Composer = Callable[[LedgerTransaction, PlannedMail], "Composed | Withheld"]


class MailSender:
    """Delivers planned messages from one mailbox, each at most once."""

    def __init__(self, ledger: Ledger, mail: DraftMail, mailbox: str, templates: MailTemplates,
                 composers: Mapping[str, Composer], clock: Clock | None = None) -> None:
        self.ledger, self.mail, self.mailbox, self.templates = ledger, mail, mailbox, templates
        self.composers = dict(composers)
        self.clock = clock or ledger.clock

    def deliver(self, mail: PlannedMail) -> str:
        """Take one row as far as it goes: "sent", "skipped", "held", "failed", "unknown" (a call's
        outcome is to be settled later), "planned" (its draft was deleted: made again next time) or
        "raced" (another sender has it). A refusal the next message would meet too (throttled past
        the retry budget, 503, a lost credential or permission) propagates, the row put back."""
        if mail.state in outgoing_mail.IN_FLIGHT:
            mail = self._settle(mail)
            if mail.state in ("sent", "raced"):
                return mail.state
        if mail.state == "planned":
            outcome = self._draft(mail)
            if outcome != "drafted":
                return outcome
            mail = self._fresh(mail.id)
        if mail.state == "drafted":
            return self._send(mail)
        return mail.state

    def _draft(self, mail: PlannedMail) -> str:
        with self.ledger.transaction() as tx:
            if not outgoing_mail.claim(tx.session, mail.id, "planned", "drafting", self.clock()):
                return "raced"
            composed = self.composers[mail.template](tx, mail)
            if isinstance(composed, Withheld):
                outgoing_mail.set_state(tx.session, mail.id, composed.state, self.clock(), detail=composed.detail)
                return composed.state
            try:
                rendered = self.templates.render(mail.template, composed.context)
            except ValueError:
                # A caller's context that does not fit the template: no retry can fix it.
                outgoing_mail.set_state(tx.session, mail.id, "failed", self.clock(), detail="template-context")
                return "failed"
        try:
            draft_id = self.mail.create_draft(self.mailbox, composed.address, rendered.subject, rendered.text, marker=mail.id)
        except (OutcomeUnknown, Unavailable) as exc:
            if not _refused_before_acting(exc):
                return "unknown"                           # settled by find_draft once the claim is stale
            self._set(mail.id, "planned", "throttled")     # refused before anything was made
            raise
        except _REFUSED as exc:
            self._set(mail.id, "planned", _code(exc))
            raise
        except (InvalidRequest, NotFound) as exc:
            self._set(mail.id, "failed", _code(exc))
            return "failed"
        with self.ledger.transaction() as tx:
            outgoing_mail.record_draft(tx.session, mail.id, draft_id, self.clock())
        return "drafted"

    def _send(self, mail: PlannedMail) -> str:
        with self.ledger.transaction() as tx:
            if not outgoing_mail.claim(tx.session, mail.id, "drafted", "sending", self.clock()):
                return "raced"
        assert mail.draft_id is not None
        try:
            self.mail.send_draft(self.mailbox, mail.draft_id)
        except (OutcomeUnknown, Unavailable) as exc:
            if not _refused_before_acting(exc):
                return "unknown"
            self._set(mail.id, "drafted", "throttled")     # refused before it was sent
            raise
        except _REFUSED as exc:
            self._set(mail.id, "drafted", _code(exc))
            raise
        except NotFound:
            # Gone from Drafts before it was ever sent (someone deleted it): make it again.
            self._set(mail.id, "planned", "draft-deleted")
            return "planned"
        self._record_sent(mail, mail.draft_id, settled=False)
        return "sent"

    def _settle(self, mail: PlannedMail) -> PlannedMail:
        """Decide what became of a stale in-flight row from whether its draft is still in Drafts."""
        now = self.clock()
        with self.ledger.transaction() as tx:
            if not outgoing_mail.claim(tx.session, mail.id, mail.state, mail.state, now, stale_before=now - CLAIM_TIMEOUT):
                return _as(mail, "raced")
        found = self.mail.find_draft(self.mailbox, mail.id)
        if mail.state == "drafting":
            with self.ledger.transaction() as tx:
                if found is None:
                    outgoing_mail.set_state(tx.session, mail.id, "planned", self.clock(), detail="no-draft-found")
                else:
                    outgoing_mail.record_draft(tx.session, mail.id, found, self.clock())
        elif found is None:
            log.info("outgoing mail %s settled: its draft left Drafts, so it was sent", mail.id)
            self._record_sent(mail, mail.draft_id, settled=True)
        else:
            with self.ledger.transaction() as tx:         # still a draft: the send never left
                outgoing_mail.record_draft(tx.session, mail.id, found, self.clock())
        return self._fresh(mail.id)

    def _record_sent(self, mail: PlannedMail, draft_id: str | None, *, settled: bool) -> None:
        refs = {"mail": mail.id, **({"message": draft_id} if draft_id else {}),
                **({"request": mail.request_id} if mail.request_id else {})}
        with self.ledger.transaction() as tx:
            outgoing_mail.record_sent(tx.session, mail.id, self.clock(), detail="settled" if settled else None)
            tx.append("message-sent", subject=mail.recipient_ref, refs=refs, template=mail.template,
                      notice_version=mail.notice_version, settled=settled or None)

    def _set(self, mail_id: str, state: str, detail: str) -> None:
        with self.ledger.transaction() as tx:
            outgoing_mail.set_state(tx.session, mail_id, state, self.clock(), detail=detail)

    def _fresh(self, mail_id: str) -> PlannedMail:
        with self.ledger.transaction() as tx:
            found = outgoing_mail.get(tx.session, mail_id)
        assert found is not None
        return found


def deliver_all(sender: MailSender, rows: list[PlannedMail]) -> dict[str, Any]:
    """Deliver rows in order, counting outcomes; stops when Graph keeps refusing (throttled or
    overloaded past the connector's retry budget): the next run resumes."""
    outcomes: dict[str, int] = {}
    for mail in rows:
        try:
            outcome = sender.deliver(mail)
        except (Throttled, Unavailable) as exc:
            return {"outcomes": outcomes, "throttled": True, "retry_after": exc.retry_after}
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {"outcomes": outcomes, "throttled": False}


def _as(mail: PlannedMail, state: str) -> PlannedMail:
    return PlannedMail(**{**mail.__dict__, "state": state})


def _refused_before_acting(error: GraphError) -> bool:
    """A 503 (like a 429) means Graph turned the call away unread; a 500 or a lost answer may hide an action."""
    return isinstance(error, Unavailable) and error.status == 503


def _code(error: GraphError) -> str:
    return f"graph-{error.status or 'error'}-{error.code or 'unknown'}"[:200]
