"""Children's data is deleted: a subject flagged as a child goes straight to erasure on every surface.

    flag_child(ledger, subject, by="officer", reason="...", now=now)          # the privacy officer
    rule_matches(policy, customer_info)  -> "age" | "answer" | None            # ingestion's rule
    record_child(tx, subject, now=now, by_rule="age")                           # inside ingestion's tx

Flagging, in one ledger transaction:
  1. the first time only: a `child-flagged` entry (`by_rule`: which part of the policy's
     `[children]` rule matched, or `by_officer`: true; never an answer, a name or a reason), and
     an open alert for the privacy officer (state/officer_alerts.py; the officer's name and reason
     are kept there), and an id-only warning in the log;
  2. every time: `plan_operation(cause="child")` for each record of the subject the Bookings mirror
     knows (each appointment, each customer record), with every category the subject has data in.
     Planning is idempotent (one open operation per record), so a replayed or repeated notification
     plans nothing twice, and a record erased already is not planned (tombstones keep it out).

A subject a legal hold covers is still flagged and planned: its operations wait in the executor's
state `held` (jobs/anonymise re-checks `holds_covering` before every Graph write, and the ledger
refuses to destroy keys while held), so nothing is erased before the release and everything runs
after it. `ChildFlag.held_by` names the holds, for the officer.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.retention import RetentionPolicy
from connector.models import CustomerInfo
from database.times import format_time
from jobs.holds_scope import subject_scope
from ledger.entries import lock_head
from ledger.holds import holds_covering
from ledger.models import EntryIndex
from ledger.personal_data import subject_categories
from ledger.transactions import Ledger, LedgerTransaction
from state import anonymisation, bookings_mirror, officer_alerts

log = logging.getLogger(__name__)
FLAGGED = "child-flagged"
# A text answer is an age when it starts with a whole number ("12", "12 years"); anything else is not.
_AGE = re.compile(r"\s*(\d{1,3})\b")


@dataclass(frozen=True)
class ChildFlag:
    """What flagging did: ids only."""

    subject: str
    flagged_seq: int | None          # the `child-flagged` entry; None when the subject was flagged before
    alert: str | None                # the officer's alert raised now, if any
    operations: tuple[str, ...]      # the open anonymisation operations of the subject's records
    held_by: tuple[str, ...]         # active legal holds covering it: the operations wait for their release


def rule_matches(policy: RetentionPolicy, customer: CustomerInfo) -> str | None:
    """Which part of the policy's `[children]` rule the customer's answers match (`age`, `answer`), or None."""
    rule = policy.children
    if rule is None:
        return None
    question = rule.age_question.strip().casefold()
    flags = {answer.strip().casefold() for answer in rule.flag_answers}
    for answer in customer.answers:
        if (answer.question or "").strip().casefold() != question:
            continue
        given = [answer.answer or "", *answer.selected_options]
        if any(text.strip().casefold() in flags for text in given):
            return "answer"
        age = _AGE.match(answer.answer or "")
        if age and int(age.group(1)) < rule.minimum_age:
            return "age"
    return None


def flag_child(ledger: Ledger, subject: str, *, by: str, reason: str, now: datetime) -> ChildFlag:
    """The privacy officer flags the subject as a child (`by`, `reason` are kept in the alert, not the chain)."""
    with ledger.transaction() as tx:
        return record_child(tx, subject, now=now, by_officer=by, reason=reason)


def record_child(tx: LedgerTransaction, subject: str, *, now: datetime, by_rule: str | None = None,
                 by_officer: str | None = None, reason: str | None = None) -> ChildFlag:
    """Flag the subject in `tx` (first time: entry and alert) and plan its erasure on every record it has."""
    if (by_rule is None) == (by_officer is None):
        raise ValueError("a child is flagged either by a rule or by an officer")
    session = tx.session
    lock_head(session)  # taken first, as every appending job does: flagging twice at once is serialised
    seq = alert = None
    if not is_flagged(session, subject):
        seq = tx.append(FLAGGED, subject=subject, by_rule=by_rule, by_officer=True if by_officer else None).seq
        alert = officer_alerts.raise_alert(session, FLAGGED, subject, format_time(now), raised_by=by_officer or "rule",
                                           note=reason).id
        log.warning("subject %s flagged as a child (%s): its erasure is planned on every surface",
                    subject, "by rule" if by_rule else "by the officer")
    operations = plan_erasure(session, subject, now)
    appointments, businesses = subject_scope(session, subject)
    held = tuple(hold.id for hold in holds_covering(session, now, subject=subject, appointment_ids=appointments,
                                                      business_ids=businesses))
    if held and seq is not None:
        log.warning("subject %s is on legal hold (%s): its erasure waits for the release", subject, ", ".join(held))
    return ChildFlag(subject, seq, alert, operations, held)


def is_flagged(session: Session, subject: str) -> bool:
    """Whether the chain has a `child-flagged` entry for the subject."""
    query = select(EntryIndex.seq).where(EntryIndex.subject_ref == subject, EntryIndex.kind == FLAGGED).limit(1)
    return session.scalar(query) is not None


def plan_erasure(session: Session, subject: str, now: datetime) -> tuple[str, ...]:
    """`plan_operation(cause="child")` for each appointment and customer record of the subject; the open ids."""
    categories = subject_categories(session, subject)
    if not categories:
        return ()
    records = bookings_mirror.subject_records(session, subject)
    targets = [("appointment", business, appointment) for appointment, business in records.appointments.items()]
    targets += [("customer", business, customer) for business, customer in records.customers]
    planned = [anonymisation.plan_operation(session, subject_ref=subject, business_id=business, object_type=object_type,
                                            object_id=object_id, categories=categories, cause="child", now=now)
               for object_type, business, object_id in targets]
    return tuple(operation.id for operation in planned if operation is not None)
