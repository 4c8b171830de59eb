"""Rectification: the corrections the requester asked for, applied in Graph and in the ledger.

    rectify(run, subjects) -> tuple[SubjectFacts, ...]

The corrections were collected with the request, encrypted under the requester's contact subject
(`correction.<field>`, ledger/requests.py); only `name`, `email` and `phone` are fields a person
can correct here (the rest is the business's own record of a visit). For each subject, in Graph:
its customer record in every business (PATCH displayName, emailAddress, the first phone number)
and its element of every appointment's `customers[]` (the whole array sent back, the others'
elements as read, privacy-facts §2.2); then in the ledger, one `rectified` entry per subject with
the new values collected under the categories they had (so the blind indexes follow the new
address). PATCHes are idempotent, so a resumed run sends a `sending` step again; the ledger step
is recorded in the transaction that appends its entry, so it happens once.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from connector import NotFound
from connector.models import CustomerUpdate, Phone
from jobs import classify
from jobs.anonymise.batched import answers
from jobs.anonymise.strategies import APPOINTMENT_TYPE, ELEMENT_TYPE, is_mine
from jobs.ingest import STORED_PURPOSE
from jobs.requests.facts import GraphEvidence, SubjectFacts, SurfaceFact
from jobs.requests.run import Run
from ledger.models import PersonalData
from ledger.requests import CONTACT_PURPOSE
from state import bookings_mirror

CORRECTABLE = {"name": "name", "email": "emailAddress", "phone": "phone"}   # stored field -> element member


class NothingToCorrect(ValueError):
    """The request names no field this service can correct (the officer refuses or asks again)."""


def corrections(run: Run) -> dict[str, str]:
    """The requested corrections, decrypted (each read recorded as a `viewed` entry)."""
    with run.ledger.transaction() as tx:
        values = tx.read_personal_data(run.requester, viewer="service:requests", purpose=CONTACT_PURPOSE,
                                       refs={"request": run.request_id})
    wanted = {name.removeprefix("correction."): value for name, value in values.items() if name.startswith("correction.")}
    usable = {name: value for name, value in wanted.items() if name in CORRECTABLE}
    if not usable:
        raise NothingToCorrect(f"request {run.request_id} asks to correct no field of {sorted(CORRECTABLE)}")
    return usable


def rectify(run: Run, subjects: list[str]) -> tuple[SubjectFacts, ...]:
    """Apply the corrections to every subject, Graph first, then the ledger."""
    fixes = corrections(run)
    return tuple(_subject(run, subject, fixes) for subject in subjects)


def _subject(run: Run, subject: str, fixes: dict[str, str]) -> SubjectFacts:
    with run.ledger.transaction() as tx:
        records = bookings_mirror.subject_records(tx.session, subject)
    surfaces = []
    for business, customer in records.customers:
        surfaces.append(_customer(run, business, customer, fixes))
    mine = {c for _b, c in records.customers}
    for appointment, business in sorted(records.appointments.items()):
        surfaces.append(_appointment(run, business, appointment, mine, fixes))
    surfaces.append(_ledger(run, subject, fixes))
    return SubjectFacts(subject, tuple(s for s in surfaces if s is not None))


def _customer(run: Run, business: str, customer: str, fixes: dict[str, str]) -> SurfaceFact:
    name = f"rectify:customer:{business}:{customer}"
    if not run.steps.is_done(name):
        run.steps.sending(name)
        update = CustomerUpdate(display_name=fixes.get("name"), email=fixes.get("email"),
                                phones=(Phone(kind="mobile", number=fixes["phone"]),) if "phone" in fixes else None)
        try:
            run.graph.bookings.update_customer(business, customer, update)
            run.steps.done(name, {"status": 200})
        except NotFound:
            run.steps.done(name, {"status": 404})
    status = run.steps.evidence(name).get("status")
    return SurfaceFact("customer", "rectified" if status == 200 else "none", business, customer,
                       (GraphEvidence(None, status),), detail=None if status == 200 else "gone")


def _appointment(run: Run, business: str, appointment: str, mine: set[str], fixes: dict[str, str]) -> SurfaceFact:
    name = f"rectify:appointment:{appointment}"
    if not run.steps.is_done(name):
        read = answers(run.graph.bookings.appointment_documents(business, [appointment]), [appointment])[appointment]
        if read is None or read.value is None:
            status = None if read is None else read.status
            run.steps.done(name, {"graph": [{"request_id": getattr(read, "request_id", None), "status": status}],
                                  "action": "gone"})
        else:
            run.steps.sending(name)
            body = _corrected(read.value, mine, fixes)
            sent = answers(run.graph.bookings.update_appointments(business, {appointment: body}), [appointment])[appointment]
            if sent is None or sent.error is not None:
                run.steps.failed(name, {"status": None if sent is None else sent.status})
                raise RuntimeError(f"request {run.request_id}: the correction of appointment {appointment} was not written")
            run.steps.done(name, {"graph": [{"request_id": sent.request_id, "status": sent.status}], "action": "rectified"})
    evidence = run.steps.evidence(name)
    graph = tuple(GraphEvidence(g.get("request_id"), g.get("status")) for g in evidence.get("graph", []))
    return SurfaceFact("appointment", "rectified" if evidence.get("action") == "rectified" else "none",
                       business, appointment, graph)


def _corrected(document: dict[str, Any], mine: set[str], fixes: dict[str, str]) -> dict[str, Any]:
    """The appointment's customers[] with this person's element corrected, the others as read."""
    elements = []
    for element in document.get("customers") or ():
        if is_mine(element, mine):
            element = {**element, **{CORRECTABLE[f]: v for f, v in fixes.items()}}
        elements.append({**element, "@odata.type": ELEMENT_TYPE})
    return {"@odata.type": APPOINTMENT_TYPE, "customers": elements}


def _ledger(run: Run, subject: str, fixes: dict[str, str]) -> SurfaceFact:
    name = f"rectify:ledger:{subject}"
    if not run.steps.is_done(name):
        with run.ledger.transaction() as tx:
            stored = dict(tx.session.execute(select(PersonalData.field, PersonalData.category).where(
                PersonalData.subject_ref == subject, PersonalData.field.in_(list(fixes)))).all())
            paths = {f: f"customers[].{CORRECTABLE[f]}" for f in fixes if f not in stored}
            categories = {**classify.categories(run.policy, paths), **stored}
            seq = tx.collect(subject, fixes, categories=categories, purpose=STORED_PURPOSE, kind="rectified",
                             refs={"request": run.request_id}).seq
            run.steps.done(name, {"seq": seq}, tx=tx)
    return SurfaceFact("ledger", "rectified", seqs=(run.steps.evidence(name)["seq"],))
