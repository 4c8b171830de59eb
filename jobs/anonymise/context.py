"""What one operation needs to know while it runs: the person's values, ids, what else needs the record.

Loaded from the ledger and the working state at the start of a run (and again after a restart):
nothing of it is persisted, and the decrypted values (`needles`) live only in memory, for the
read-back, until the keys step destroys them for good.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from database.times import format_time
from config.retention import RetentionPolicy
from connector import GraphConnector
from jobs.anonymise.surfaces import Needles, copy_needles, needles
from jobs.classify import field_prefix
from ledger import personal_data
from ledger.holds import holds_covering
from ledger.models import PersonalData
from ledger.transactions import Ledger, LedgerTransaction
from state import anonymisation, bookings_mirror, request_runs, retention_dues
from state.anonymisation import PlannedOperation, Step

APPOINTMENT_STEPS = ("appointment", "appointment-delete", "event", "readback", "keys")
CUSTOMER_STEPS = ("customer", "readback", "keys")


@dataclass(frozen=True)
class Run:
    """One business's share of a run: what every step handler is given."""

    ledger: Ledger
    graph: GraphConnector
    policy: RetentionPolicy
    business: str
    now: datetime
    region: str


@dataclass
class Work:
    """One operation in this run: its persisted steps and what the run learnt about its record."""

    op: PlannedOperation
    steps: dict[str, Step]
    needles: Needles
    customer_ids: set[str]            # this person's Bookings customer ids in the business
    customer_keys: list[str]          # their keys in the mirror's subject map of the appointment
    others: set[str]                  # other customers' ids on the appointment (sent back whole)
    needed_by: list[str]              # why the appointment must be kept (empty: nothing needs it)
    window: tuple[str | None, str | None, str | None] = (None, None, None)   # mirror's start, end, event id
    document: dict[str, Any] | None = None     # the appointment (or customer) as last read this run
    gone: bool = False                         # Graph answered 404 for the record
    progressed: bool = field(default=False)

    @property
    def names(self) -> tuple[str, ...]:
        return APPOINTMENT_STEPS if self.op.object_type == "appointment" else CUSTOMER_STEPS

    def next_step(self) -> str | None:
        """The first step not finished (done, skipped or failed) under the operation's revision."""
        for name in self.names:
            step = self.steps.get(name)
            if step is None or step.state in ("pending", "sending") or step.revision < self.op.revision:
                return name
        return None

    def copy_needles(self) -> Needles:
        """What the calendar copy must no longer hold: the needles no other customer's element of
        the appointment as last read holds too (surfaces.copy_needles)."""
        return copy_needles(self.needles, self.document or {}, self.others)

    def state_of(self, name: str) -> str | None:
        step = self.steps.get(name)
        return None if step is None or step.revision < self.op.revision else step.state


def load(tx: LedgerTransaction, op: PlannedOperation, now: datetime, region: str) -> Work:
    """The operation's context: the person's values of its categories (decrypted while the keys
    exist), its customer ids, the appointment's other customers, and what still needs the record."""
    session = tx.session
    rows = session.execute(select(PersonalData.field, PersonalData.category)
                           .where(PersonalData.subject_ref == op.subject_ref)).all()
    categories = {row.field: row.category for row in rows}
    keys = tx.keystore.existing_keys(op.subject_ref)
    readable = [f for f, c in categories.items() if c in keys]
    values = personal_data.read_values(session, keys, op.subject_ref, readable) if readable else {}
    prefix = field_prefix(op.object_id) if op.object_type == "appointment" else None
    found = needles(values, categories, op.categories, prefix=prefix, region=region)
    mine = {c for b, c in bookings_mirror.subject_records(session, op.subject_ref).customers if b == op.business_id}
    work = Work(op, anonymisation.steps(session, op.id), found, mine, [], set(), [])
    if op.object_type == "appointment":
        snapshot = bookings_mirror.appointment(session, op.object_id)
        subjects = snapshot.subjects if snapshot else {}
        work.customer_keys = [k for k, s in subjects.items() if s == op.subject_ref]
        work.customer_ids |= {k for k in work.customer_keys if not k.startswith("#")}
        work.others = {k for k, s in subjects.items() if s != op.subject_ref}
        work.needed_by = appointment_needs(tx, op, set(subjects.values()), now)
        work.window = bookings_mirror.appointment_times(session, op.object_id)
    else:
        work.needed_by = customer_needs(tx, op, now)
    return work


def appointment_needs(tx: LedgerTransaction, op: PlannedOperation, subjects: set[str], now: datetime) -> list[str]:
    """Why the appointment must be kept: a category on it not yet expired for someone (this person's
    own, not in the operation, or another customer's), or a hold on another customer."""
    stamp = format_time(now)
    reasons = []
    for due in retention_dues.object_dues(tx.session, "appointment", op.object_id):
        mine = due.subject_ref == op.subject_ref
        # No due date: the category's clock has not started (e.g. a cancellation clock), so it is kept.
        if (due.due_at is None or due.due_at > stamp) and not (mine and due.category in op.categories):
            reasons.append("own-category" if mine else "other-customer")
    others = subjects - {op.subject_ref}
    if any(holds_covering(tx.session, now, subject=other) for other in others):
        reasons.append("other-customer-held")
    if request_runs.kept_appointments(tx.session, [op.object_id]):
        reasons.append("kept-by-officer")   # a future appointment the erasure keeps: anonymised in place
    return sorted(set(reasons))


def customer_needs(tx: LedgerTransaction, op: PlannedOperation, now: datetime) -> list[str]:
    """Why the customer record must be kept: another record of the person in this business that is
    neither expired nor being anonymised."""
    stamp = format_time(now)
    records = bookings_mirror.subject_records(tx.session, op.subject_ref)
    here = {a for a, b in records.appointments.items() if b == op.business_id}
    leaving = {o.object_id: set(o.categories) for o in anonymisation.operations_for_subject(tx.session, op.subject_ref)
               if o.state in anonymisation.OPEN_STATES and o.object_type == "appointment"}
    live = [d for d in retention_dues.subject_dues(tx.session, op.subject_ref)
            if d.object_type == "appointment" and d.object_id in here and (d.due_at is None or d.due_at > stamp)
            and d.category not in leaving.get(d.object_id, set())]
    return ["live-appointment"] if live else []
