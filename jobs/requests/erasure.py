"""Erasure and a parent's erasure of a child's data: the anonymisation operations, run for a request.

    result = erase(run, subjects)      # -> Erased(subjects=(SubjectFacts, ...), kept=(KeptItem, ...))

Steps, each persisted (jobs/requests/steps.py), so a killed run resumes without doing anything twice:

  plan          which of the subjects' appointments are still to come, each with the officer's
                choice (`cancel`: Bookings mails the customer the cancellation message; `keep`, the
                default: anonymised in place, the business keeps the slot), fixed before any write
  cancel:<id>   POST …/cancel, `sending` committed first; a resumed `sending` is settled by reading
                the appointment (404: it took, Bookings' mail went; present: it did not), never a
                second cancellation mail
  operations    `plan_operation(cause="request")` on every record (appointment, customer) of each
                subject, in one transaction; a child's request also flags the child (jobs/children.py:
                its later bookings are erased at ingestion, and its operations take everything)
  the Anonymiser over these subjects' operations (jobs/anonymise: rewrite or strip and delete,
                the calendar copies, the customer records, the read-back of every surface, keys)
                until none is open but the held ones; a run that leaves some waiting (Graph could
                not be read) stays `running` and the next one continues
  erase:<subj>  `Ledger.erase_subject` unless the keys step erased it already (crash-safe on its own:
                ledger/erasure.py, `finish_erasures` starts every run)

Legal holds override: a held operation stays `held`, a held subject keeps its keys and ledger
data; each is a KeptItem naming the holds, the outcome is `partial`, and the completion mail
tells the subject what was kept and why.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from connector import NotFound
from database.times import format_time
from jobs import children
from jobs.anonymise import Anonymiser
from jobs.requests.facts import GraphEvidence, KeptItem, SubjectFacts, SurfaceFact
from jobs.requests.run import Run
from ledger.core.canonical import parse_entry
from ledger.entries import stream_rows
from ledger.holds import Held, holds_covering
from ledger.models import EntryIndex
from ledger.personal_data import subject_categories
from state import anonymisation, bookings_mirror, request_runs

# Sent by Bookings to the customer and the staff: nothing of the person in it, and no reason given
# beyond the person's own request (the completion mail says the rest).
CANCELLATION_MESSAGE = "This appointment has been cancelled, as you asked us to erase your data."
ERASURE_REASON = "erasure-request"


class StillRunning(Exception):
    """Operations of the request are still open (not held): the run continues next time."""


@dataclass(frozen=True)
class Erased:
    """What the erasure did, for the certificate and the completion."""

    subjects: tuple[SubjectFacts, ...]
    kept: tuple[KeptItem, ...]


def erase(run: Run, subjects: list[str]) -> Erased:
    """Carry the erasure out over `subjects` (resumable); raises StillRunning while Graph work remains."""
    future = _plan(run, subjects)
    for appointment, (business, choice) in sorted(future.items()):
        if choice == "cancel":
            _cancel(run, business, appointment)
    _operations(run, subjects)
    Anonymiser(run.ledger, run.graph, run.policy, run.clock).run(subjects=subjects)
    with run.ledger.transaction() as tx:
        still = [op for op in anonymisation.open_operations(tx.session, subjects=subjects) if op.state != "held"]
    if still:
        raise StillRunning(f"request {run.request_id}: {len(still)} anonymisation operations still open")
    kept: list[KeptItem] = []
    for subject in subjects:
        kept += _erase_subject(run, subject)
    kept += _kept_records(run, subjects)
    return Erased(tuple(_subject_facts(run, s, future) for s in subjects), tuple(kept))


def _plan(run: Run, subjects: list[str]) -> dict[str, tuple[str, str]]:
    """Appointment id -> (business, choice) of the subjects' appointments still to come; fixed once."""
    if run.steps.is_done("plan"):
        return {a: (b, c) for a, (b, c) in run.steps.evidence("plan")["future"].items()}
    stamp = format_time(run.clock())
    future = {}
    with run.ledger.transaction() as tx:
        for subject in subjects:
            for appointment, business in bookings_mirror.subject_records(tx.session, subject).appointments.items():
                start, _end, _event = bookings_mirror.appointment_times(tx.session, appointment)
                if start is not None and start > stamp:
                    future[appointment] = (business, run.choices.get(appointment, "keep"))
        request_runs.settle_choices(tx.session, run.request_id, {a: c for a, (_b, c) in future.items()})
        run.steps.done("plan", {"future": {a: list(v) for a, v in future.items()}}, tx=tx)
    return future


def _cancel(run: Run, business: str, appointment: str) -> None:
    name = f"cancel:{appointment}"
    step = run.steps.get(name)
    if step is not None and step[0] == "done":
        return
    if step is not None and step[0] == "sending":
        try:
            run.graph.bookings.appointment(business, appointment)
        except NotFound:
            run.steps.done(name, {"settled": "read-back", "status": 404})   # it took: the mail went once
            return
    run.steps.sending(name, {"business": business})
    try:
        run.graph.bookings.cancel_appointment(business, appointment, CANCELLATION_MESSAGE)
    except NotFound:
        pass     # gone already (deleted, or cancelled in Bookings meanwhile): nothing to cancel
    run.steps.done(name, {"business": business, "status": 204})


def _operations(run: Run, subjects: list[str]) -> None:
    if run.steps.is_done("operations"):
        return
    now = run.clock()
    planned: list[str] = []
    with run.ledger.transaction() as tx:
        for subject in subjects:
            if run.request_type == "child-erasure":
                children.record_child(tx, subject, now=now, by_officer=f"request {run.request_id}")
            categories = subject_categories(tx.session, subject)
            if not categories:
                continue
            records = bookings_mirror.subject_records(tx.session, subject)
            targets = [("appointment", b, a) for a, b in records.appointments.items()]
            targets += [("customer", b, c) for b, c in records.customers]
            for object_type, business, object_id in targets:
                op = anonymisation.plan_operation(tx.session, subject_ref=subject, business_id=business,
                                                  object_type=object_type, object_id=object_id, categories=categories,
                                                  cause="request", now=now, request_id=run.request_id)
                if op is not None:
                    planned.append(op.id)
        run.steps.done("operations", {"operations": sorted(planned)}, tx=tx)


def _erase_subject(run: Run, subject: str) -> list[KeptItem]:
    """Destroy the subject's keys (unless erased already); a KeptItem when a hold refuses it."""
    name = f"erase:{subject}"
    if run.steps.is_done(name):
        return []
    with run.ledger.transaction() as tx:
        known = tx.subject(subject)
        erased = known is not None and known.status == "erased"
    if not erased:
        try:
            run.ledger.erase_subject(subject, reason=ERASURE_REASON, refs={"request": run.request_id})
        except Held as held:
            return [KeptItem(subject, "ledger", None, "legal-hold", held.hold_ids)]
    run.steps.done(name, {"erased": True})
    return []


def _kept_records(run: Run, subjects: list[str]) -> list[KeptItem]:
    """The held or failed operations, and the customer records kept because something needs them."""
    kept = []
    now = run.clock()
    with run.ledger.transaction() as tx:
        for subject in subjects:
            for op in anonymisation.operations_for_subject(tx.session, subject):
                surface = op.object_type
                if op.state == "held":
                    scope = {"subject": subject, "business_ids": [op.business_id],
                             "appointment_ids": [op.object_id] if surface == "appointment" else []}
                    holds = tuple(h.id for h in holds_covering(tx.session, now, **scope))
                    kept.append(KeptItem(subject, surface, op.object_id, "legal-hold", holds))
                elif op.state == "failed":
                    kept.append(KeptItem(subject, surface, op.object_id, "failed"))
                elif surface == "customer":
                    step = anonymisation.steps(tx.session, op.id).get("customer")
                    if step is not None and step.evidence.get("action") == "kept":
                        kept.append(KeptItem(subject, surface, op.object_id, "needed-by-" + "-".join(step.evidence.get("why", []))))
    return kept


def _subject_facts(run: Run, subject: str, future: dict[str, tuple[str, str]]) -> SubjectFacts:
    """The surfaces of one subject as the operations' steps recorded them, and its erasure's entries."""
    surfaces = []
    with run.ledger.transaction() as tx:
        seqs = _seqs(tx.session, subject)
        for op in anonymisation.operations_for_subject(tx.session, subject):
            steps = anonymisation.steps(tx.session, op.id)
            graph = tuple(GraphEvidence(g.get("request_id"), g.get("status"))
                          for step in steps.values() for g in step.evidence.get("graph", []))
            surfaces.append(SurfaceFact(op.object_type, _action(op, steps), op.business_id, op.object_id, graph,
                                        tuple(seqs.get(("anonymised", op.object_id), ())),
                                        _detail(op, steps, future)))
            for event in (steps["event"].evidence.get("events", []) if "event" in steps else []):
                surfaces.append(SurfaceFact("event", "deleted" if steps["event"].state == "done" else "none",
                                            op.business_id, str(event)))
        erased_seq = max(seqs.get(("erased", None), [0])) or None
        destroyed_seq = max(seqs.get(("key-destroyed", None), [0])) or None
        moments = _entry_details(tx.session, destroyed_seq) if destroyed_seq else {}
    surfaces.append(SurfaceFact("ledger", "erased" if erased_seq else "kept",
                                seqs=tuple(s for s in (erased_seq, destroyed_seq) if s)))
    return SubjectFacts(subject, tuple(surfaces), erased_seq, destroyed_seq, moments.get("keys_destroyed_at"),
                        moments.get("final_everywhere_at"))


def _action(op: anonymisation.PlannedOperation, steps: dict[str, anonymisation.Step]) -> str:
    if op.state == "held":
        return "kept"
    if op.object_type == "customer":
        step = steps.get("customer")
        return "deleted" if step is not None and step.state == "done" else "kept"
    if "appointment-delete" in steps and steps["appointment-delete"].state == "done":
        return "deleted"
    step = steps.get("appointment")
    if step is not None and step.evidence.get("action") == "gone":
        return "deleted"
    return "anonymised" if op.state == "done" else "none"


def _detail(op: anonymisation.PlannedOperation, steps: dict[str, anonymisation.Step],
            future: dict[str, tuple[str, str]]) -> str | None:
    if op.object_id in future:
        return "cancelled-with-message" if future[op.object_id][1] == "cancel" else "kept-anonymised"
    step = steps.get("appointment") or steps.get("customer")
    return step.evidence.get("action") if step is not None else None


def _seqs(session: Any, subject: str) -> dict[tuple[str, str | None], list[int]]:
    """(kind, object id) -> seqs of the subject's anonymisation and erasure entries."""
    rows = session.execute(select(EntryIndex.seq, EntryIndex.kind).where(
        EntryIndex.subject_ref == subject, EntryIndex.kind.in_(("anonymised", "erased", "key-destroyed"))))
    found: dict[tuple[str, str | None], list[int]] = {}
    for seq, kind in rows:
        obj = None
        if kind == "anonymised":
            refs = _entry_details(session, seq).get("refs") or {}
            obj = refs.get("appointment") or refs.get("customer")
        found.setdefault((kind, obj), []).append(seq)
    return found


def _entry_details(session: Any, seq: int) -> dict[str, Any]:
    (row,) = list(stream_rows(session.connection(), seq - 1, seq))
    return parse_entry(row[1])
