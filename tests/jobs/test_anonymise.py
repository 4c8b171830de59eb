"""Anonymisation through Graph (emulator over HTTP; SQLite and PostgreSQL): rewrite or delete the
appointment, delete the customer record, clean the event copy, read back, destroy the keys."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from anonymise_fixtures import Bookings, anonymiser, entries, person
from config import load_settings
from config.retention import load_policy
from jobs.anonymise import Anonymiser
from jobs.anonymise.journal import Journal
from ledger.integrity import verify_ledger
from ledger.holds import place_hold, release_hold
from state import anonymisation, bookings_mirror

SWITCHES_OFF = {"quirk_delete_customer_500_rate": 0.0, "accept_empty_customers": True, "legacy_fields_follow_customers": True,
                "event_body_has_custom_answers": True}
ALL = ["account.preferences", "booking.answers", "booking.contact", "booking.details", "booking.identity", "booking.notes"]


@pytest.fixture
def policy(service: Any) -> Any:
    return load_policy(load_settings(service.settings).RETENTION_POLICY_FILE)


@pytest.fixture
def bookings(control: Any, service: Any, graph: Any, ingestor: Any, emulator: Any) -> Iterator[Bookings]:
    """An empty seeded business; the app may write calendar copies (Calendars.ReadWrite)."""
    defaults = control.call("GET", "/options")["granted_permissions"]
    control.call("POST", "/options", {"granted_permissions": [*defaults, "Calendars.ReadWrite"]})
    business = control.seed(appointments=0, customers=0)[0]
    yield Bookings(emulator.graph_url, business, graph, ingestor, service.ledger, control)
    control.call("POST", "/options", {"granted_permissions": defaults, **SWITCHES_OFF})


def _start(bookings: Bookings) -> Any:
    return bookings.ledger.clock().replace(microsecond=0) - timedelta(days=400)


def test_an_appointment_nothing_needs_is_stripped_then_deleted(bookings: Bookings, policy: Any) -> None:
    """Every category expired: customers stripped (PATCH) first, then DELETE; keys erased; chain verifies."""
    appointment_id = bookings.book(_start(bookings), [person(1)])
    subject, customer_id = bookings.subject_of(appointment_id)
    bookings.expire("appointment", appointment_id, subject, ALL)
    op = bookings.plan(subject, "appointment", appointment_id)
    counts = anonymiser(bookings, policy).run()
    assert counts["done"] == 1, counts
    assert bookings.appointment(appointment_id).status_code == 404
    with bookings.ledger.transaction() as tx:
        steps = anonymisation.steps(tx.session, op.id)
        assert tx.is_tombstoned("appointment", appointment_id)
    assert steps["appointment"].evidence["action"] == "strip" and steps["appointment-delete"].state == "done"
    statuses = [g["status"] for g in steps["appointment"].evidence["graph"]]
    assert statuses[-1] in (200, 204) and all(g["request_id"] for g in steps["appointment"].evidence["graph"])
    done = entries(bookings.ledger, "anonymised")
    assert [e["action"] for e in done] == ["strip", "delete"]
    assert entries(bookings.ledger, "anonymisation-verified")
    assert verify_ledger(bookings.ledger.engine, verifier_key=None, origin=None, clock=bookings.ledger.clock).ok


def test_a_group_appointment_is_rewritten_with_the_others_sent_back_whole(bookings: Bookings, policy: Any) -> None:
    """One of two customers expires: their element leaves customers[], the other comes back as it was."""
    appointment_id = bookings.book(_start(bookings), [person(1), person(2)])
    before = bookings.appointment(appointment_id).json()
    subject, customer_id = bookings.subject_of(appointment_id, 0)
    other = next(c for c in before["customers"] if c["customerId"] != customer_id)
    bookings.expire("appointment", appointment_id, subject, ALL)
    op = bookings.plan(subject, "appointment", appointment_id)
    assert anonymiser(bookings, policy).run()["done"] == 1
    after = bookings.appointment(appointment_id).json()
    assert [c["customerId"] for c in after["customers"]] == [other["customerId"]]
    kept = after["customers"][0]
    assert {k: kept.get(k) for k in ("name", "emailAddress", "phone", "customQuestionAnswers")} == \
        {k: other.get(k) for k in ("name", "emailAddress", "phone", "customQuestionAnswers")}
    with bookings.ledger.transaction() as tx:
        assert anonymisation.steps(tx.session, op.id)["appointment"].evidence["action"] == "rewrite"
        assert not tx.is_tombstoned("appointment", appointment_id)


def test_a_hold_placed_in_flight_stops_the_operation_until_released(bookings: Bookings, policy: Any) -> None:
    """A hold placed during the first write stops the operation before its next step; after the
    release a run finishes it."""
    appointment_id = bookings.book(_start(bookings), [person(1)])
    subject, _ = bookings.subject_of(appointment_id)
    bookings.expire("appointment", appointment_id, subject, ALL)
    op = bookings.plan(subject, "appointment", appointment_id)
    runner = anonymiser(bookings, policy)
    journal_sending = runner.journal.sending
    placed = []

    def hold_after_first_send(works, step, plans):   # the officer acts while the strip is in flight
        owned = journal_sending(works, step, plans)
        if not placed:
            with bookings.ledger.transaction() as tx:
                placed.append(place_hold(tx, "subject", subject, reason="case 7", placed_by="officer", ends_at=None))
        return owned

    runner.journal.sending = hold_after_first_send  # type: ignore[method-assign]
    counts = runner.run()
    assert counts["held"] == 1, counts
    with bookings.ledger.transaction() as tx:
        steps = anonymisation.steps(tx.session, op.id)
        assert anonymisation.operation(tx.session, op.id).state == "held"
    assert steps["appointment"].state == "done" and "appointment-delete" not in steps
    assert bookings.appointment(appointment_id).status_code == 200
    with bookings.ledger.transaction() as tx:
        release_hold(tx, placed[0].id, reason="case closed", released_by="officer")
    assert anonymiser(bookings, policy).run()["done"] == 1
    assert bookings.appointment(appointment_id).status_code == 404


def _mailed(bookings: Bookings, address: str) -> list[Any]:
    return bookings.control.call("GET", f"/_emulator/mail?recipient={address}".removeprefix("/_emulator"))


def _writes(bookings: Bookings, object_id: str) -> list[tuple[str, int]]:
    log = bookings.control.call("GET", f"/requests/objects?id={object_id}").get(object_id, [])
    return [(e["method"], e["status"]) for e in log]


@pytest.mark.parametrize("empty_accepted", [True, False])
def test_no_customer_is_mailed_when_an_appointment_is_deleted(bookings: Bookings, policy: Any, empty_accepted: bool) -> None:
    """DELETE mails every customer on the appointment (emulator default, §2.3), so they are stripped
    first; where an empty customers[] is refused, blanked elements carry no address to mail."""
    bookings.control.call("POST", "/options", {"accept_empty_customers": empty_accepted})
    appointment_id = bookings.book(_start(bookings), [person(1)])
    subject, _ = bookings.subject_of(appointment_id)
    bookings.expire("appointment", appointment_id, subject, ALL)
    bookings.plan(subject, "appointment", appointment_id)
    assert anonymiser(bookings, policy).run()["done"] == 1
    assert bookings.appointment(appointment_id).status_code == 404
    assert _mailed(bookings, "ada001@example.org") == []
    assert [m for m, status in _writes(bookings, appointment_id) if 200 <= status < 300] == ["POST", "PATCH", "DELETE"]


def test_a_customer_record_deleted_with_a_500_is_settled_by_reading_back(bookings: Bookings, policy: Any) -> None:
    """Graph deletes the record yet answers 500: the step reads it back (404: done), never re-sends."""
    appointment_id = bookings.book(_start(bookings), [person(1)])
    subject, customer_id = bookings.subject_of(appointment_id)
    bookings.expire("appointment", appointment_id, subject, ALL)
    bookings.expire("customer", customer_id, subject, ALL)
    bookings.plan(subject, "appointment", appointment_id)
    customer_op = bookings.plan(subject, "customer", customer_id)
    bookings.control.call("POST", "/options", {"quirk_delete_customer_500_rate": 1.0})
    assert anonymiser(bookings, policy).run()["done"] == 2
    assert bookings.customer(customer_id).status_code == 404
    assert _writes(bookings, customer_id) == [("DELETE", 500)]
    with bookings.ledger.transaction() as tx:
        step = anonymisation.steps(tx.session, customer_op.id)["customer"]
        assert tx.subject(subject).status == "erased" and tx.is_tombstoned("customer", customer_id)
    assert step.evidence["settled"] == "read-back" and step.evidence["graph"][-1]["status"] == 404


def test_a_stale_notification_after_anonymisation_brings_nothing_back(bookings: Bookings, policy: Any) -> None:
    """The rewritten appointment is seen as unchanged; a replayed copy of a deleted one is tombstoned."""
    kept = bookings.book(_start(bookings), [person(1), person(2)])
    deleted = bookings.book(_start(bookings) + timedelta(hours=2), [person(3)])
    stale = bookings.graph.bookings.appointment(bookings.business, deleted)
    for appointment_id in (kept, deleted):
        subject, _ = bookings.subject_of(appointment_id)
        bookings.expire("appointment", appointment_id, subject, ALL)
        bookings.plan(subject, "appointment", appointment_id)
    assert anonymiser(bookings, policy).run()["done"] == 2
    collected = len(entries(bookings.ledger, "collected")) + len(entries(bookings.ledger, "updated"))
    assert bookings.ingestor.ingest_appointment(bookings.graph.bookings.appointment(bookings.business, kept)) == "unchanged"
    assert bookings.ingestor.ingest_appointment(stale) == "tombstoned"
    assert len(entries(bookings.ledger, "collected")) + len(entries(bookings.ledger, "updated")) == collected
    with bookings.ledger.transaction() as tx:
        assert anonymisation.open_operations(tx.session) == []


def _copy(bookings: Bookings, marker: str) -> dict[str, Any]:
    """The business mailbox's event whose body carries `marker` (an answer)."""
    with bookings.http() as http:
        events = http.get(f"/users/{bookings.business}/events").json()["value"]
    return next(e for e in events if marker in (e.get("body") or {}).get("content", ""))


def _dirty_after(runner: Any, step: str, dirty: Any) -> None:
    """Run `dirty()` once, right after `step` is recorded done (as if Bookings had not re-projected
    the calendar copy, or had written it again from the appointment meanwhile)."""
    finish = runner.journal.finish
    fired: list[bool] = []

    def finish_then_dirty(outcomes: Any) -> None:
        outcomes = list(outcomes)
        finish(outcomes)
        if not fired and any(o.step == step and o.state == "done" for o in outcomes):
            fired.append(True)
            dirty()

    runner.journal.finish = finish_then_dirty


def _group_with_copy(bookings: Bookings) -> tuple[str, str, dict[str, Any], Any]:
    appointment_id = bookings.book(_start(bookings), [person(1), person(2)])
    subject, _ = bookings.subject_of(appointment_id, 0)
    copy = _copy(bookings, "Analytical-001")
    bookings.expire("appointment", appointment_id, subject, ALL)
    return appointment_id, subject, copy, bookings.plan(subject, "appointment", appointment_id)


def _write_body(bookings: Bookings, event_id: str, body: dict[str, Any]) -> None:
    with bookings.http() as http:
        http.patch(f"/users/{bookings.business}/events/{event_id}", json={"body": body}).raise_for_status()


def test_a_calendar_copy_still_holding_answers_is_rewritten(bookings: Bookings, policy: Any) -> None:
    """The copy keeps this person's answer after the appointment's rewrite: the event step cuts it out
    (the other customer's answer stays), and the read-back verifies it."""
    appointment_id, subject, copy, op = _group_with_copy(bookings)
    runner = anonymiser(bookings, policy)
    _dirty_after(runner, "appointment", lambda: _write_body(bookings, copy["id"], copy["body"]))
    assert runner.run()["done"] == 1
    with bookings.http() as http:
        body = http.get(f"/users/{bookings.business}/events/{copy['id']}").json()["body"]["content"]
    assert "Analytical-001" not in body and "Analytical-002" in body
    with bookings.ledger.transaction() as tx:
        event = anonymisation.steps(tx.session, op.id)["event"]
    assert event.evidence["action"] == "rewrite" and event.evidence["events"] == [copy["id"]]
    live = [h for h in bookings.control.call("GET", "/search?text=Analytical-001")["hits"] if not h["recoverable"]]
    assert live == []


def test_an_answer_another_customer_gave_too_stays_on_the_calendar_copy(bookings: Bookings, policy: Any) -> None:
    """Both customers of a group booking heard of the business from a "Flyer": the copy's body shows
    every customer's answers, so the other's "Flyer" is not this person's residue. The copy is left
    as Bookings wrote it (no write cutting the other's answer out) and the operation is verified;
    before, the read-back found it dirty after every re-projection until the operation failed."""
    same = [{"questionId": "q1", "question": "How did you hear about us?", "answer": "Flyer"}]
    appointment_id = bookings.book(_start(bookings), [person(1, customQuestionAnswers=same), person(2, customQuestionAnswers=same)])
    subject, _ = bookings.subject_of(appointment_id, 0)
    copy = _copy(bookings, "Flyer")
    bookings.expire("appointment", appointment_id, subject, ALL)
    op = bookings.plan(subject, "appointment", appointment_id)
    assert anonymiser(bookings, policy).run()["done"] == 1
    with bookings.http() as http:
        body = http.get(f"/users/{bookings.business}/events/{copy['id']}").json()["body"]["content"]
    assert "Flyer" in body and "ada001@example.org" not in body
    with bookings.ledger.transaction() as tx:
        assert anonymisation.steps(tx.session, op.id)["event"].evidence["action"] == "clean"
    assert [m for m, _ in _writes(bookings, copy["id"])] == []


def test_a_customer_named_like_the_staff_member_is_anonymised(bookings: Bookings, policy: Any) -> None:
    """The copy lists the staff member who takes the booking as its attendee; a customer with the
    same name is not found there (attendees are staff only), so the operation ends verified
    instead of failing after five rewrites that cannot change attendees (the soak found it)."""
    state = next(b for b in bookings.control.state()["businesses"] if b["business"]["id"] == bookings.business)
    staff = state["staffMembers"][0]
    appointment_id = bookings.book(_start(bookings), [person(1, name=staff["displayName"]), person(2)],
                                   staffMemberIds=[staff["id"]])   # kept for the other customer: its copy stays
    subject, _ = bookings.subject_of(appointment_id)
    bookings.expire("appointment", appointment_id, subject, ALL)
    op = bookings.plan(subject, "appointment", appointment_id)
    assert anonymiser(bookings, policy).run()["done"] == 1
    with bookings.ledger.transaction() as tx:
        assert anonymisation.operation(tx.session, op.id).state == "done"


def test_an_event_copy_dirty_again_after_its_rewrite_is_rewritten_again(bookings: Bookings, policy: Any) -> None:
    """Dirt put back on the calendar copy after the event step (Bookings writing it again from the
    appointment, as the soak saw) sends the copy to be rewritten, and the operation ends clean."""
    appointment_id, subject, copy, op = _group_with_copy(bookings)
    runner = anonymiser(bookings, policy)
    _dirty_after(runner, "event", lambda: _write_body(bookings, copy["id"], copy["body"]))
    assert runner.run()["done"] == 1
    with bookings.http() as http:
        body = http.get(f"/users/{bookings.business}/events/{copy['id']}").json()["body"]["content"]
    assert "Analytical-001" not in body


def test_an_appointment_edited_back_after_its_rewrite_is_rewritten_again(bookings: Bookings, policy: Any) -> None:
    """Someone puts the person back on the appointment between the rewrite and the read-back (staff
    editing it, say): the read-back sends it to be rewritten from a fresh read, and it ends clean."""
    appointment_id, subject, _, op = _group_with_copy(bookings)
    original = bookings.appointment(appointment_id).json()["customers"]
    runner = anonymiser(bookings, policy)

    def put_back() -> None:
        with bookings.http() as http:
            http.patch(f"/solutions/bookingBusinesses/{bookings.business}/appointments/{appointment_id}",
                       json={"customers": original}).raise_for_status()

    _dirty_after(runner, "appointment", put_back)
    assert runner.run()["done"] == 1
    assert "ada001@example.org" not in json.dumps(bookings.appointment(appointment_id).json()).lower()
    with bookings.ledger.transaction() as tx:
        assert anonymisation.steps(tx.session, op.id)["appointment"].attempts == 2


def test_two_customers_of_one_appointment_expiring_together_are_rewritten_one_after_the_other(
        bookings: Bookings, policy: Any) -> None:
    """Each rewrite replaces the whole customers[] array from a read: two sent from the same read would
    put each other's person back. One write per appointment a round, so each is written once."""
    appointment_id = bookings.book(_start(bookings), [person(1), person(2), person(3)])
    ops = []
    for index in (0, 1):
        subject, _ = bookings.subject_of(appointment_id, index)
        bookings.expire("appointment", appointment_id, subject, ALL)
        ops.append(bookings.plan(subject, "appointment", appointment_id))
    assert anonymiser(bookings, policy).run()["done"] == 2
    left = bookings.appointment(appointment_id).json()["customers"]
    assert [c["emailAddress"] for c in left] == ["ada003@example.org"]
    with bookings.ledger.transaction() as tx:
        assert [anonymisation.steps(tx.session, op.id)["appointment"].attempts for op in ops] == [1, 1]


def test_the_last_operation_of_a_person_erases_them_even_in_the_same_batch(bookings: Bookings, policy: Any) -> None:
    """Two records of one person reach the keys step together: the shared categories' keys are not
    kept alive by each other, the person is erased, and no lookup finds them any more."""
    first = bookings.book(_start(bookings), [person(1)])
    second = bookings.book(_start(bookings) + timedelta(hours=3), [person(1)])
    subject, _ = bookings.subject_of(first)
    assert bookings.subject_of(second)[0] == subject
    with bookings.ledger.transaction() as tx:
        records = [("appointment", first), ("appointment", second)] + [
            ("customer", c) for _, c in bookings_mirror.subject_records(tx.session, subject).customers]
    for object_type, object_id in records:
        bookings.expire(object_type, object_id, subject, ALL)
        bookings.plan(subject, object_type, object_id)
    assert anonymiser(bookings, policy).run()["done"] == len(records)
    with bookings.ledger.transaction() as tx:
        assert tx.subject(subject).status == "erased"
        assert tx.find_subjects(email="ada001@example.org") == []
    assert len(entries(bookings.ledger, "erased")) == 1


def test_the_dry_run_lists_the_plan_and_touches_nothing(bookings: Bookings, policy: Any) -> None:
    """plan_dry_run names each open operation's strategy without a Graph call or a write."""
    single = bookings.book(_start(bookings), [person(1)])
    group = bookings.book(_start(bookings) + timedelta(hours=2), [person(2), person(3)])
    for appointment_id in (single, group):
        subject, _ = bookings.subject_of(appointment_id)
        bookings.expire("appointment", appointment_id, subject, ALL)
        bookings.plan(subject, "appointment", appointment_id)
    bookings.control.call("DELETE", "/requests")
    head = len(entries(bookings.ledger, "anonymised")) + len(entries(bookings.ledger, "viewed"))
    planned = {p["object_id"]: p for p in anonymiser(bookings, policy).plan_dry_run()}
    assert planned[single]["strategy"] == "delete" and planned[group]["strategy"] == "rewrite"
    assert planned[group]["needed_by"] == ["other-customer"] and planned[single]["next_step"] == "appointment"
    assert [k for k in bookings.control.call("GET", "/requests") if "/_emulator/" not in k] == []
    assert len(entries(bookings.ledger, "anonymised")) + len(entries(bookings.ledger, "viewed")) == head
    with bookings.ledger.transaction() as tx:
        assert {o.state for o in anonymisation.open_operations(tx.session)} == {"planned"}


@pytest.mark.parametrize("follow", [True, False])
def test_legacy_fields_no_patch_reaches_are_recorded_as_remaining(bookings: Bookings, policy: Any, follow: bool) -> None:
    """An appointment kept for its booking details loses the customer; where Graph's legacy flat
    fields keep the old copy (no PATCH can change them, §1.5) the read-back records them, with why."""
    bookings.control.call("POST", "/options", {"legacy_fields_follow_customers": follow})
    appointment_id = bookings.book(_start(bookings), [person(1)])
    subject, _ = bookings.subject_of(appointment_id)
    expired = [c for c in ALL if c != "booking.details"]
    bookings.expire("appointment", appointment_id, subject, expired)
    op = bookings.plan(subject, "appointment", appointment_id, expired)
    assert anonymiser(bookings, policy).run()["done"] == 1
    document = bookings.appointment(appointment_id).json()
    with bookings.ledger.transaction() as tx:
        readback = anonymisation.steps(tx.session, op.id)["readback"].evidence
    assert document["customers"] == []
    remains = {r["place"]: r["why"] for r in readback["remains"]}
    if follow:
        assert remains == {} and not document.get("customerName")
    else:
        assert {"customerName", "customerEmailAddress"} <= set(remains) and document["customerName"] == "Ada Lovelace-001"
        assert all("own-category" in why for why in remains.values())
    assert entries(bookings.ledger, "anonymisation-verified")[-1]["remains"] == sorted(remains)


@pytest.mark.parametrize("answers_in_body", [True, False])
def test_no_answer_is_left_on_any_live_surface(bookings: Bookings, policy: Any, answers_in_body: bool) -> None:
    """Whether or not the calendar copy carries answers (CONFLICT §2.5), none of this person's is left."""
    bookings.control.call("POST", "/options", {"event_body_has_custom_answers": answers_in_body})
    appointment_id = bookings.book(_start(bookings), [person(1), person(2)])
    subject, _ = bookings.subject_of(appointment_id, 0)
    bookings.expire("appointment", appointment_id, subject, ALL)
    bookings.plan(subject, "appointment", appointment_id)
    assert anonymiser(bookings, policy).run()["done"] == 1
    for value in ("Analytical-001", "ada001@example.org", "Ada Lovelace-001"):
        assert [h for h in bookings.control.call("GET", f"/search?text={value}")["hits"]
                if not h["recoverable"] and h["surface"] != "customers"] == []


def test_a_kept_appointment_keeps_a_blanked_element_where_an_empty_array_is_refused(bookings: Bookings, policy: Any) -> None:
    """The refused empty customers[] (400, nothing written) is followed by the person's element blanked."""
    bookings.control.call("POST", "/options", {"accept_empty_customers": False})
    appointment_id = bookings.book(_start(bookings), [person(1)])
    subject, customer_id = bookings.subject_of(appointment_id)
    expired = [c for c in ALL if c != "booking.details"]
    bookings.expire("appointment", appointment_id, subject, expired)
    op = bookings.plan(subject, "appointment", appointment_id, expired)
    assert anonymiser(bookings, policy).run()["done"] == 1
    (element,) = bookings.appointment(appointment_id).json()["customers"]
    assert element["customerId"] == customer_id and not (element.get("name") or element.get("emailAddress")
                                                         or element.get("phone") or element.get("customQuestionAnswers"))
    with bookings.ledger.transaction() as tx:
        step = anonymisation.steps(tx.session, op.id)["appointment"]
    assert [g["status"] for g in step.evidence["graph"]][1:] == [400, 204] and step.evidence["empty_refused"]
    assert [s for m, s in _writes(bookings, appointment_id) if m == "PATCH"] == [400, 204]


def test_a_patch_answered_504_is_read_back_before_anything_is_sent_again(bookings: Bookings, policy: Any) -> None:
    """A 504 leaves the outcome unknown: the connector does not re-send it, the step reads Graph back,
    and only because the read shows the rewrite did not take is it sent once more."""
    appointment_id = bookings.book(_start(bookings), [person(1), person(2)])
    subject, _ = bookings.subject_of(appointment_id, 0)
    bookings.expire("appointment", appointment_id, subject, ALL)
    op = bookings.plan(subject, "appointment", appointment_id)
    bookings.control.call("POST", "/faults", {"requests": [{"status": 504, "count": 1, "method": "PATCH",
                                                             "route": "appointments"}]})
    try:
        assert anonymiser(bookings, policy).run()["done"] == 1
    finally:
        bookings.control.call("DELETE", "/faults")
    assert [s for m, s in _writes(bookings, appointment_id) if m == "PATCH"] == [504, 204]
    with bookings.ledger.transaction() as tx:
        step = anonymisation.steps(tx.session, op.id)["appointment"]
    assert step.state == "done" and step.attempts == 2


class _Interleaved(Journal):
    """Runs another anonymiser to its end at one moment of this run: before its first write leaves
    (`sending`) or before its read-back is recorded (`readback`), as the request job's run and the
    anonymisation job's can overlap in the scheduler."""

    def __init__(self, mine: Anonymiser, other: Anonymiser, moment: str) -> None:
        super().__init__(mine.ledger, mine.clock)
        self.other, self.moment, self.counts = other, moment, None

    def _interleave(self) -> None:
        if self.counts is None:
            self.counts = self.other.run()

    def sending(self, works: Any, step: str, plans: Any) -> Any:
        owned = super().sending(works, step, plans)
        if self.moment == "sending":
            self._interleave()
        return owned

    def finish(self, outcomes: Any) -> None:
        outcomes = list(outcomes)
        if self.moment == "readback" and any(o.step == "readback" for o in outcomes):
            self._interleave()
        super().finish(outcomes)


@pytest.mark.parametrize("moment", ["sending", "readback"])
def test_two_runs_at_once_anonymise_an_operation_once(bookings: Bookings, policy: Any, moment: str) -> None:
    """A second run taking the same operation while the first is in flight: each surface is
    anonymised once, the operation verified once, and the run that moved second records nothing."""
    appointment_id = bookings.book(_start(bookings), [person(1)])
    subject, _ = bookings.subject_of(appointment_id)
    bookings.expire("appointment", appointment_id, subject, ALL)
    op = bookings.plan(subject, "appointment", appointment_id)
    first, second = anonymiser(bookings, policy), anonymiser(bookings, policy)
    first.journal = interleaved = _Interleaved(first, second, moment)
    first.run()
    assert interleaved.counts is not None and interleaved.counts["done"] == 1, interleaved.counts
    assert [e["operation"] for e in entries(bookings.ledger, "anonymisation-verified")] == [op.id]
    assert [e["action"] for e in entries(bookings.ledger, "anonymised")] == ["strip", "delete"]
    with bookings.ledger.transaction() as tx:
        assert anonymisation.operation(tx.session, op.id).state == "done"
    assert verify_ledger(bookings.ledger.engine, verifier_key=None, origin=None, clock=bookings.ledger.clock).ok
