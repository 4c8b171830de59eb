"""Privacy-notice versions and the material-change notice to everyone whose data is still held.

    registered = register_notice(ledger, text, version="2026-12-01", material=True)   # `notice register`
    NoticeSender(ledger, graph, settings).run()                                       # the `notices` job

Registering stores the text (state/notice_versions.py, for the public page) and appends
`notice-changed` (version, SHA-256, material) in one transaction; a material version also plans,
in that same transaction, one notice per *person* whose data is still held: subjects sharing an
email blind index are one person, told once (any of their subjects carries the address). So a
crash cannot register a material change without its notices, and registering again plans none.

The job sends them NOTICE_BATCH_SIZE at a time, each at most once (jobs/mail_sender.py) and
recorded as `message-sent`, batch after batch until none is left; killed, the next run resumes.

Restricted subjects (GDPR Art. 18) are held, not mailed: while restricted, their data may only be
stored (Art. 18(2)), and the controller must write to them before the restriction is lifted
anyway (Art. 18(3)); the notice goes out once it is lifted. An objection or an opt-out does not
stop the notice: it is not marketing (Art. 21(2)-(3), CCPA §1798.120) and does not rest on
legitimate interests (Art. 21(1)); it is the information Art. 13(3) and 14(4) owe them.
docs/mail.md argues this in full.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.mail_templates import MailTemplates, load_templates
from database.times import format_time
from jobs.mail_sender import CLAIM_TIMEOUT, Composed, MailSender, Withheld, deliver_all
from ledger.blind_index import EMAIL
from ledger.models import BlindIndex, SubjectProjection
from ledger.transactions import Clock, Ledger, LedgerTransaction
from state import notice_versions, outgoing_mail, subject_restrictions
from state.outgoing_mail import NewMail, PlannedMail

TEMPLATE = "material-change"
VIEWER, PURPOSE = "service:mail", "notice-change"


@dataclass(frozen=True)
class RegisteredNotice:
    """What `register_notice` did: the version, its digest, its entry's seq (None: registered before)
    and how many notices it planned."""

    version: str
    sha256: str
    seq: int | None
    planned: int


def register_notice(ledger: Ledger, text: str, *, version: str, material: bool) -> RegisteredNotice:
    """Record a notice version (and, when `material`, plan its notices); registering the same text
    again does nothing; ValueError when the version is registered with another text."""
    sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    with ledger.transaction() as tx:
        now = tx.clock()
        existing = notice_versions.get_version(tx.session, version)
        notice_versions.register_version(tx.session, version=version, sha256=sha256, text=text, material=material,
                                         now=now)
        if existing is not None:
            return RegisteredNotice(version, sha256, None, 0)
        seq = tx.append("notice-changed", notice_version=version, sha256=sha256, material=material,
                        effective_from=format_time(now)).seq
        planned = plan_notices(tx.session, version, now) if material else 0
    return RegisteredNotice(version, sha256, seq, planned)


def plan_notices(session: Session, version: str, now: datetime) -> int:
    """One notice of `version` per person (email blind index) whose subject is not erased; how many."""
    people = (select(func.min(BlindIndex.subject_ref))
              .join(SubjectProjection, SubjectProjection.subject_ref == BlindIndex.subject_ref)
              .where(BlindIndex.kind == EMAIL, SubjectProjection.status != "erased")
              .group_by(BlindIndex.digest))
    return outgoing_mail.plan_many(session, (NewMail(f"notice:{version}:{subject}", TEMPLATE, recipient_ref=subject,
                                                     notice_version=version) for subject in session.scalars(people)), now)


class NoticeSender:
    """Sends the planned material-change notices in batches, each at most once."""

    def __init__(self, ledger: Ledger, connector: Any, settings: Any, clock: Clock | None = None, *,
                 templates: MailTemplates | None = None) -> None:
        self.ledger, self.clock = ledger, clock or ledger.clock
        self.batch_size = settings.NOTICE_BATCH_SIZE
        self.base_url = settings.PUBLIC_BASE_URL.rstrip("/")
        self.sender = MailSender(ledger, connector.mail, settings.require("PRIVACY_MAILBOX"),
                                 templates or load_templates(settings.MAIL_TEMPLATES_DIR), {TEMPLATE: self._compose},
                                 self.clock)

    def run(self, *, max_batches: int | None = None) -> dict[str, Any]:
        """Release the notices of subjects no longer restricted, then send batch after batch until none
        is left, Graph keeps refusing, or `max_batches` were sent; counts only."""
        released = self.release_lifted()
        totals: dict[str, int] = {}
        batches, throttled = 0, False
        while max_batches is None or batches < max_batches:
            with self.ledger.transaction() as tx:
                rows = outgoing_mail.workable(tx.session, stale_before=self.clock() - CLAIM_TIMEOUT,
                                              limit=self.batch_size, notices=True)
            if not rows:
                break
            result = deliver_all(self.sender, rows)
            batches += 1
            for outcome, count in result["outcomes"].items():
                totals[outcome] = totals.get(outcome, 0) + count
            if result["throttled"]:
                throttled = True
                break
            if not set(result["outcomes"]) - {"unknown", "raced"}:
                break     # what is left waits for its claim to go stale: the next run settles it
        return {"released": released, "batches": batches, "outcomes": totals, "throttled": throttled}

    def release_lifted(self) -> int:
        """Plan again the held notices of subjects whose restriction was lifted; how many."""
        released = 0
        with self.ledger.transaction() as tx:
            for mail in outgoing_mail.held(tx.session, limit=10_000):
                if not _restricted(tx.session, mail.recipient_ref or ""):
                    outgoing_mail.set_state(tx.session, mail.id, "planned", self.clock(), detail="restriction-lifted")
                    released += 1
        return released

    def _compose(self, tx: LedgerTransaction, mail: PlannedMail) -> Composed | Withheld:
        subject = mail.recipient_ref or ""
        if _restricted(tx.session, subject):
            return Withheld("held", "restricted")
        known = tx.subject(subject)
        if known is None or known.status == "erased":
            return Withheld("skipped", "erased")
        contact = tx.read_personal_data(subject, viewer=VIEWER, purpose=PURPOSE, refs={"mail": mail.id})
        if not contact.get("email"):
            return Withheld("skipped", "no-email-address")
        version = mail.notice_version or ""
        return Composed(contact["email"], {"privacy_page": f"{self.base_url}/privacy", "mailbox": self.sender.mailbox,
                                           "notice_version": version,
                                           "notice_link": f"{self.base_url}/privacy/notices/{version}"})


def _restricted(session: Session, subject: str) -> bool:
    """Under a restriction of processing (Art. 18) now; objections and opt-outs do not withhold a notice."""
    return any(row.kind == "restriction" and row.lifted_at is None
               for row in subject_restrictions.of_subject(session, subject))


def notice_progress(ledger: Ledger, version: str) -> dict[str, int]:
    """A version's notices by state (sent, held, skipped, planned …)."""
    with ledger.transaction() as tx:
        return outgoing_mail.counts(tx.session, version)
