"""Anonymisation operations: one open operation per record and subject, merged plans, persisted steps."""
from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from state import anonymisation, bookings_mirror

SUBJECT = "a" * 32


def _mirror(session: Session, now: str) -> None:
    bookings_mirror.save_appointment(session, "appt-1", "biz@x", start=now, end=now, subjects={"c1": SUBJECT},
                                     digests={}, graph_version=None, now=now)
    bookings_mirror.link_customer(session, "biz@x", "c1", SUBJECT, now)


def _plan(session: Session, clock, categories=("booking.notes",), object_type="appointment", object_id="appt-1"):
    return anonymisation.plan_operation(session, subject_ref=SUBJECT, business_id="biz@x", object_type=object_type,
                                        object_id=object_id, categories=categories, cause="retention", now=clock())


def test_a_second_plan_merges_into_the_open_operation(db: Engine, clock) -> None:
    """Planning the same record twice gives one operation with both plans' categories."""
    with Session(db) as session, session.begin():
        _mirror(session, "2024-01-01T00:00:00.000000Z")
        first = _plan(session, clock)
        second = _plan(session, clock, ("booking.answers",))
    assert first is not None and second is not None and second.id == first.id
    assert second.categories == ("booking.answers", "booking.notes") and second.revision == 1
    with Session(db) as session:
        assert [op.id for op in anonymisation.open_operations(session)] == [first.id]


def test_a_finished_operation_lets_a_new_one_open(db: Engine, clock) -> None:
    """The uniqueness covers open operations only: a done one does not block the next."""
    with Session(db) as session, session.begin():
        _mirror(session, "2024-01-01T00:00:00.000000Z")
        first = _plan(session, clock)
        anonymisation.set_state(session, first.id, "done", clock())
        second = _plan(session, clock)
    assert second is not None and second.id != first.id
    with Session(db) as session:
        states = {op.id: op.state for op in anonymisation.operations_for_subject(session, SUBJECT)}
    assert states == {first.id: "done", second.id: "planned"}


def test_no_plan_for_a_record_the_mirror_no_longer_links(db: Engine, clock) -> None:
    """An erased subject's or an unknown record's plan is refused (None)."""
    with Session(db) as session, session.begin():
        _mirror(session, "2024-01-01T00:00:00.000000Z")
        assert _plan(session, clock, object_id="unknown") is None
        bookings_mirror.erase_subject_rows(session, SUBJECT, "2024-01-02T00:00:00.000000Z")
        assert _plan(session, clock) is None
        assert _plan(session, clock, object_type="customer", object_id="c1") is None


def test_steps_count_attempts_and_keep_evidence(db: Engine, clock) -> None:
    """`sending` counts an attempt; `done` stores the evidence given."""
    with Session(db) as session, session.begin():
        _mirror(session, "2024-01-01T00:00:00.000000Z")
        op = _plan(session, clock)
        anonymisation.record_step(session, op.id, "appointment", "sending", clock(), revision=0)
        anonymisation.record_step(session, op.id, "appointment", "done", clock(), revision=0,
                                  evidence={"action": "rewrite", "graph": [{"request_id": "r1", "status": 200}]})
    with Session(db) as session:
        step = anonymisation.steps(session, op.id)["appointment"]
    assert (step.state, step.attempts, step.evidence["graph"][0]["status"]) == ("done", 1, 200)
