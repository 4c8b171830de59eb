"""The mail each data-subject request is due, sent from PRIVACY_MAILBOX at most once (jobs/mail_sender.py).

    mailer = RequestMailer(ledger, graph, settings, clock)
    mailer.run()                                          # the scheduler's `request-mail` job
    mailer.send(request_id, "completion", requester, {})  # another job's message, sent now

What a request is due, each planned once (the row's purpose is unique) and sent once:

    acknowledgement   on receipt (a mailed draft once the officer confirms it); under CCPA it is
                      the receipt confirmation §7021(a) asks for within 10 business days, saying
                      how the request will be verified and by when it will be answered
    verification      for each challenge the public page wants (state.verification): the code
                      and link are minted when the draft is made, so only their hashes are stored
    extension         once the deadline was extended (sent at once, so inside the first period)
    completion        once completed: for access and portability a single-use export link (never
                      an attachment); for a partial outcome what was kept and why
    refusal           once refused: the reason and the right to complain

Every message goes to the requester's email address, read from the ledger when its draft is made
(`viewed` by `service:mail` for `request-mail`); a request with only a telephone number gets no
mail (the officer calls). Requests closed more than REQUEST_CONTACT_DAYS ago are not looked at:
their contact details may be gone, and a late answer is the digest's to flag, not this job's.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.mail_templates import MailTemplates, load_templates
from database.times import format_time, parse_time
from jobs.mail_sender import CLAIM_TIMEOUT, Composed, MailSender, Withheld, deliver_all
from jobs.request_digest import compose_digest, deadline_day, plan_digest
from ledger import requests
from ledger.core.canonical import parse_entry
from ledger.deadlines import Calendars
from ledger.models import EntryIndex, LedgerEntry, RequestProjection
from ledger.transactions import Clock, Ledger, LedgerTransaction
from state import outgoing_mail, portal_links, request_runs, verification
from state.outgoing_mail import NewMail, PlannedMail

BATCH = 200                     # messages per run; the next run takes the rest
VIEWER, PURPOSE = "service:mail", "request-mail"
ACKNOWLEDGED = ("awaiting-verification", "verified", "running", "duplicate")
EXPORTED = frozenset({"access", "portability"})


class RequestMailer:
    """Plans the messages requests are due and sends them, each at most once."""

    def __init__(self, ledger: Ledger, connector: Any, settings: Any, clock: Clock | None = None, *,
                 templates: MailTemplates | None = None) -> None:
        self.ledger, self.settings, self.clock = ledger, settings, clock or ledger.clock
        self.calendars = Calendars.from_settings(settings)
        self.base_url = settings.PUBLIC_BASE_URL.rstrip("/")
        composers = {name: self._compose for name in ("acknowledgement", "verification", "extension", "completion",
                                                       "refusal")}
        composers["digest"] = lambda tx, mail: compose_digest(settings, mail)
        self.sender = MailSender(ledger, connector.mail, settings.require("PRIVACY_MAILBOX"),
                                 templates or load_templates(settings.MAIL_TEMPLATES_DIR), composers, self.clock)

    def run(self, limit: int = BATCH) -> dict[str, Any]:
        """Plan what is due, then send up to `limit` messages (resumed ones first); counts only."""
        planned = self.plan_due()
        with self.ledger.transaction() as tx:
            rows = outgoing_mail.workable(tx.session, stale_before=self.clock() - CLAIM_TIMEOUT, limit=limit)
        return {"planned": planned, **deliver_all(self.sender, rows)}

    def send(self, request_id: str, template: str, recipient_subject: str, context: Mapping[str, Any]) -> str:
        """Plan one message about a request to `recipient_subject` and send it now; its row id.
        Planned once per (template, request, recipient): calling again sends nothing more."""
        purpose = f"{template}:{request_id}:{recipient_subject}"
        with self.ledger.transaction() as tx:
            outgoing_mail.plan(tx.session, NewMail(purpose, template, request_id, recipient_subject, context=context),
                               self.clock())
            mail = outgoing_mail.by_purpose(tx.session, purpose)
        assert mail is not None
        self.sender.deliver(mail)
        return mail.id

    def plan_due(self) -> dict[str, int]:
        """Plan every message due now; how many of each were new."""
        now = self.clock()
        closed_since = format_time(now - timedelta(days=self.settings.REQUEST_CONTACT_DAYS))
        due = {
            "acknowledgement": (RequestProjection.state.in_(ACKNOWLEDGED),),
            "extension": (RequestProjection.extended_at.is_not(None), RequestProjection.state.in_(requests.OPEN_STATES)),
            "completion": (RequestProjection.state == "completed",),
            "refusal": (RequestProjection.state == "refused",),
        }
        planned: dict[str, int] = {}
        with self.ledger.transaction() as tx:
            session = tx.session
            for template, conditions in due.items():
                rows = _requests(session, closed_since, *conditions)
                known = outgoing_mail.planned_for(session, template, (r.request_id for r in rows))
                new = [NewMail(f"{template}:{r.request_id}", template, r.request_id, r.requester_ref)
                       for r in rows if r.request_id not in known]
                planned[template] = outgoing_mail.plan_many(session, new, now)
            planned["verification"] = sum(
                outgoing_mail.plan(session, NewMail(f"verification:{challenge}", "verification", request_id), now) is not None
                for challenge, request_id in verification.wanted_challenges(session))
            planned["digest"] = plan_digest(session, self.settings, self.calendars, now)
        return planned

    def _compose(self, tx: LedgerTransaction, mail: PlannedMail) -> Composed | Withheld:
        """A request message: the requester's address and notes from the ledger, the rest from the request."""
        request = requests.get(tx, mail.request_id or "")
        if request is None or request.requester_ref is None:
            return Withheld("skipped", "no-request")
        contact = tx.read_personal_data(mail.recipient_ref or request.requester_ref, viewer=VIEWER, purpose=PURPOSE,
                                        refs={"request": request.request_id, "mail": mail.id})
        if not contact.get("email"):
            return Withheld("skipped", "no-email-address")
        specific = getattr(self, f"_{mail.template}")(tx, mail, request, contact)
        if isinstance(specific, Withheld):
            return specific
        common = {"privacy_page": f"{self.base_url}/privacy", "mailbox": self.sender.mailbox,
                  "request_id": request.request_id, "request_type": request.request_type, "regime": request.regime}
        return Composed(contact["email"], {**common, **specific, **mail.context})

    def _acknowledgement(self, tx: LedgerTransaction, mail: PlannedMail, request: RequestProjection,
                         contact: Mapping[str, str]) -> dict[str, Any]:
        needed = requests.required_level(request.regime or "gdpr", request.request_type or "")
        return {"received_on": self._day(request.received_at, end=False), "due_on": self._day(request.due_at),
                "needs_verification": needed != "none" and request.state == "awaiting-verification",
                "confirm_by": self._day(request.confirm_by) if request.confirm_by else "",
                "duplicate_of": request.duplicate_of or ""}

    def _verification(self, tx: LedgerTransaction, mail: PlannedMail, request: RequestProjection,
                      contact: Mapping[str, str]) -> dict[str, Any] | Withheld:
        minutes = self.settings.VERIFICATION_CODE_MINUTES
        challenge = mail.purpose.split(":", 1)[1]
        try:
            issued = verification.issue_challenge(tx.session, challenge, self.clock(), minutes)
        except verification.ChallengeError:
            return Withheld("skipped", "challenge-closed")      # used, spent or verified otherwise meanwhile
        return {"code": issued.code, "link": f"{self.base_url}/privacy/v/{issued.link_token}", "minutes": minutes}

    def _extension(self, tx: LedgerTransaction, mail: PlannedMail, request: RequestProjection,
                   contact: Mapping[str, str]) -> dict[str, Any]:
        entry = latest_entry(tx, request.requester_ref or "", "request-extended")
        return {"reason": entry.get("reason", ""), "note": contact.get("extension_note", ""),
                "first_due_on": self._day(request.first_due_at), "due_on": self._day(request.due_at)}

    def _completion(self, tx: LedgerTransaction, mail: PlannedMail, request: RequestProjection,
                    contact: Mapping[str, str]) -> dict[str, Any]:
        hours = self.settings.REQUEST_LINK_HOURS
        link = ""
        if request.request_type in EXPORTED:
            token = portal_links.create_link(tx.session, request.request_id, "export", self.clock(), hours)
            link = f"{self.base_url}/privacy/export/{token}"
        steps = request_runs.steps(tx.session, request.request_id)
        facts = steps.get("complete", ("", {}))[1].get("facts", {})
        kept = [{"surface": item["surface"], "reason": item["reason"]} for item in facts.get("kept", ())]
        return {"outcome": request.outcome or "done", "export_link": link, "link_hours": hours, "kept": kept}

    def _refusal(self, tx: LedgerTransaction, mail: PlannedMail, request: RequestProjection,
                 contact: Mapping[str, str]) -> dict[str, Any]:
        entry = latest_entry(tx, request.requester_ref or "", "request-refused")
        return {"reason": entry.get("reason", ""), "note": contact.get("refusal_note", "")}

    def _day(self, stamp: str | None, *, end: bool = True) -> str:
        """The controller's local date of a stamp; a deadline (the instant its day ends) shows that day."""
        if stamp is None:
            return ""
        day = deadline_day(self.calendars, stamp) if end else self.calendars.local_date(parse_time(stamp))
        return day.isoformat()


def latest_entry(tx: LedgerTransaction, subject: str, kind: str) -> dict[str, Any]:
    """The subject's latest entry of `kind` (its details), or {}."""
    body = tx.session.scalar(select(LedgerEntry.body).join(EntryIndex, EntryIndex.seq == LedgerEntry.seq)
                             .where(EntryIndex.subject_ref == subject, EntryIndex.kind == kind)
                             .order_by(EntryIndex.seq.desc()).limit(1))
    return parse_entry(body) if body is not None else {}


def _requests(session: Session, closed_since: str, *conditions: Any) -> list[RequestProjection]:
    """Requests matching `conditions` that are open or closed since `closed_since`."""
    recent = RequestProjection.completed_at.is_(None) | (RequestProjection.completed_at >= closed_since)
    return list(session.scalars(select(RequestProjection).where(*conditions, recent)))


def mail_pending(session: Session, request_id: str) -> bool:
    """Whether mail to the request's requester is still to go: a message planned and not sent, or a
    closed request whose closing message is not planned yet (jobs/request_contacts.py waits for both
    before it erases an erasure's requester)."""
    if outgoing_mail.has_pending(session, request_id):
        return True
    request = session.get(RequestProjection, request_id)
    closing = {"completed": "completion", "refused": "refusal"}.get(request.state if request else "")
    return closing is not None and request_id not in outgoing_mail.planned_for(session, closing, [request_id])
