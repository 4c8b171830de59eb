"""The read-back: every surface read again, and none may hold the person's expired values.

Run after every write of the operation and before any key is destroyed (the values to look for
are decrypted from the ledger, `context.load`). A surface still holding them where a write
could have cleaned it fails the operation: its keys are kept, so nothing is lost that a later
operation would need to find what remains. A value in a place no PATCH reaches (the legacy flat
customer fields, an element's notes: graph-facts §1.3, §1.5) on an appointment the business must
keep is recorded as remaining, with why, for the certificate. When verified, the Bookings mirror
is brought to what Graph now holds (so a later notification or reconcile neither collects the
person again nor plans again), in the transaction that appends `anonymisation-verified`.
"""
from __future__ import annotations

from typing import Any

from connector import ItemResult
from connector.parse import parse_appointment
from database.times import format_time
from jobs import classify
from jobs.anonymise.batched import answers, gone
from jobs.anonymise.context import Run, Work
from jobs.anonymise.journal import Journal, Outcome, evidence_of
from jobs.anonymise.surfaces import UNPATCHABLE, appointment_texts, customer_texts, event_texts, residue
from ledger.transactions import LedgerTransaction
from state import anonymisation, bookings_mirror, retention_dues


def readback_step(run: Run, journal: Journal, works: list[Work]) -> None:
    """Verify every surface of each operation; on success update the mirror and record it."""
    appointments = [w.op.object_id for w in works if w.op.object_type == "appointment"]
    customers = [w.op.object_id for w in works if w.op.object_type == "customer" and w.state_of("customer") == "done"]
    events = [e for w in works if w.op.object_type == "appointment" and w.state_of("event") == "done"
              for e in w.steps["event"].evidence.get("events", [])]
    read = {}
    if appointments:
        read.update(answers(run.graph.bookings.appointment_documents(run.business, appointments), appointments))
    if customers:
        read.update({("customer", k): v for k, v in answers(run.graph.bookings.customer_documents(run.business, customers),
                                                            customers).items()})
    if events:
        read.update({("event", k): v for k, v in answers(run.graph.mailbox.event_documents(run.business, events), events).items()})
    finished = []
    for work in works:
        verdict = _verdict(work, read)
        if verdict is not None:
            finished.append(verdict)
    journal.finish(finished)


def _verdict(work: Work, read: dict[Any, ItemResult[Any] | None]) -> Outcome | None:
    """The read-back's outcome for one operation; None while a surface could not be read."""
    surfaces: dict[str, str] = {}
    dirty: list[str] = []
    remains: list[dict[str, Any]] = []
    graph: list[dict[str, Any]] = []
    document = None
    if work.op.object_type == "appointment":
        item = read[work.op.object_id]
        if item is None or (item.error is not None and not gone(item)):
            return None
        graph.append(evidence_of(item))
        if gone(item):
            surfaces["appointment"] = "gone"
        else:
            document = work.document = item.value
            places = residue(appointment_texts(document, work.others), work.needles)
            dirty += [f"appointment:{p}" for p in places if p not in UNPATCHABLE]
            remains += [{"place": p, "why": "no PATCH changes it; the appointment is kept: " + ",".join(work.needed_by or ["policy"])}
                        for p in places if p in UNPATCHABLE]
            surfaces["appointment"] = "rewritten" if not places else "kept-with-remains"
        for event_id in work.steps["event"].evidence.get("events", []) if work.state_of("event") == "done" else []:
            event = read[("event", event_id)]
            if event is None or (event.error is not None and not gone(event)):
                return None
            graph.append(evidence_of(event))
            if not gone(event) and event.error is None and residue(event_texts(event.value), work.copy_needles()):
                dirty.append(f"event:{event_id}")
        surfaces["event"] = work.steps["event"].evidence.get("action", "clean")
    else:
        item = read.get(("customer", work.op.object_id))
        if work.state_of("customer") == "skipped":
            surfaces["customer"] = "kept"
        elif item is None or (item.error is not None and not gone(item)):
            return None
        else:
            graph.append(evidence_of(item))
            surfaces["customer"] = "gone" if gone(item) else "present"
            if not gone(item) and residue(customer_texts(item.value), work.needles):
                dirty.append("customer")
    evidence = {"surfaces": surfaces, "dirty": dirty, "remains": remains, "graph": graph}
    if dirty and all(place.startswith(("appointment:", "event:")) for place in dirty):
        # Graph took the rewrite (it answered 2xx), so the person is back because someone edited the
        # appointment since (staff, or a customer's own change), or Bookings wrote its calendar copy
        # again from the appointment (the soak saw it): rewrite that surface again from a fresh read.
        # The step's attempts bound it: MAX_ATTEMPTS rewrites, then the operation fails.
        step = "appointment" if any(place.startswith("appointment:") for place in dirty) else "event"
        return Outcome(work, step, "pending", {**evidence, "why": "edited after the rewrite"})
    if dirty:
        return Outcome(work, "readback", "failed", evidence)
    return Outcome(work, "readback", "done", evidence, then=lambda tx: _verified(tx, work, document, evidence))


def _verified(tx: LedgerTransaction, work: Work, document: dict[str, Any] | None, evidence: dict[str, Any]) -> None:
    """Bring the working state to what Graph holds now, and record the verification."""
    op, now = work.op, tx.clock()
    stamp = format_time(now)
    if op.object_type == "appointment" and document is None:
        bookings_mirror.forget_appointment(tx.session, op.object_id, stamp)
        tx.tombstone("appointment", op.object_id)
        retention_dues.forget_object(tx.session, op.object_type, op.object_id, op.subject_ref)
    elif op.object_type == "appointment":
        # The appointment stays in Graph and will be read again (a later change, a sweep): its due
        # rows stay too, marked expired, because a re-read keeps a row's expiry, where a re-read
        # after deleting them would start the clocks afresh and expire the same data again (the
        # soak found it). Marked here too, for an operation planned without the retention job
        # (an erasure's, a child's).
        _mirror_rewrite(tx, work, document)
        retention_dues.mark_expired(tx.session, op.object_type, op.object_id, op.subject_ref, list(op.categories), stamp)
    elif work.state_of("customer") == "done":
        bookings_mirror.forget_customer(tx.session, op.business_id, op.object_id, stamp)
        tx.tombstone("customer", op.object_id)
        retention_dues.forget_object(tx.session, op.object_type, op.object_id, op.subject_ref)
    else:
        retention_dues.forget(tx.session, op.object_type, op.object_id, op.subject_ref, list(op.categories))
    # The categories verified: an operation merged with more categories later is verified again, for those.
    tx.append("anonymisation-verified", subject=op.subject_ref, refs={op.object_type: op.object_id}, operation=op.id,
              categories=list(op.categories), surfaces=sorted(evidence["surfaces"]), remains=[r["place"] for r in evidence["remains"]])
    anonymisation.set_state(tx.session, op.id, "verified", now)


def _mirror_rewrite(tx: LedgerTransaction, work: Work, document: dict[str, Any]) -> None:
    """The person's element left the appointment (out of the mirror) or stayed blanked; every
    customer still on it gets the digests of what Graph now holds (appointment-level notes blanked
    for this person changed the others' content too), each under its own subject's key."""
    appointment = parse_appointment(document, work.op.business_id)
    persons = {p.key: p for p in classify.people(appointment, tx.keys.phone_region)}
    snapshot = bookings_mirror.appointment(tx.session, work.op.object_id)
    subjects = snapshot.subjects if snapshot is not None else {}
    removed = [k for k in work.customer_keys if k not in persons]
    digests = {}
    for key, subject in subjects.items():
        projection = tx.subject(subject)
        if key in persons and projection is not None and projection.status == "active":
            secret = classify.digest_key(tx.subject_secret(subject))
            digests[key] = list(classify.content_digests(secret, appointment, persons[key]))
    bookings_mirror.rewrite_appointment(tx.session, work.op.object_id, removed=removed, digests=digests,
                                        graph_version=classify.graph_version(appointment), now=format_time(tx.clock()))
