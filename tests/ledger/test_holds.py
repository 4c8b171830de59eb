"""Legal holds in the ledger: placed and released on the record, and no erasure while one covers
the subject, whatever the order of events, on each backend."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from ledger.holds import Held, UnknownHold, active_holds, holds_covering, place_hold, release_hold
from ledger.integrity import verify_ledger
from ledger.models import ErasureIntent

ANN = {"email": "ann@example.org", "name": "Ann Example"}
CATEGORIES = {"email": "contact", "name": "identity"}
REASON = "Litigation: Ann Example v. Contoso, case 2026-14"


def _collect(ledger, appointment="AAMk-1"):
    with ledger.transaction() as tx:
        subject = tx.new_subject()
        tx.collect(subject, ANN, categories=CATEGORIES, purpose="appointment", refs={"appointment": appointment})
    return subject


def _place(ledger, scope, target, **options):
    with ledger.transaction() as tx:
        return place_hold(tx, scope, target, reason=REASON, placed_by="Jane Officer", ends_at=options.get("ends_at"))


def _release(ledger, hold_id):
    with ledger.transaction() as tx:
        return release_hold(tx, hold_id, reason="Case settled by Jane", released_by="Jane Officer")


def _entries(db):
    with db.connect() as connection:
        return [row for row in connection.execute(text("SELECT kind, subject_ref FROM entry_index ORDER BY seq"))]


def _chain_bytes(db) -> bytes:
    with db.connect() as connection:
        return b"".join(connection.execute(text("SELECT body FROM ledger_entries ORDER BY seq")).scalars())


def _erased(ledger, subject) -> bool:
    with ledger.transaction() as tx:
        return tx.subject(subject).status == "erased"


def test_place_and_release_record_ids_scope_and_end_but_never_the_reason_or_the_names(ledger, db, clock):
    subject = _collect(ledger)
    hold = _place(ledger, "subject", subject, ends_at=clock() + timedelta(days=30))
    released = _release(ledger, hold.id)
    placed_entry, released_entry = (row for row in _entries(db) if row.kind.startswith("hold-"))
    assert (placed_entry.subject_ref, released_entry.subject_ref) == (subject, subject)
    chain = _chain_bytes(db)
    assert hold.id.encode() in chain and b'"scope":"subject"' in chain and b'"ends_at":"2024-03-27T09:00:00.000000Z"' in chain
    for free_text in ("Ann", "Jane", "Litigation", "settled"):
        assert free_text.encode() not in chain
    assert (released.released_at, released.released_by, released.release_reason) == (clock(), "Jane Officer", "Case settled by Jane")
    assert verify_ledger(db, verifier_key=None, origin=None, clock=clock).ok


def test_a_business_or_appointment_hold_names_its_target_in_refs_not_as_subject(ledger, db):
    _place(ledger, "business", "clinic@contoso.com")
    with db.connect() as connection:
        body = connection.execute(text("SELECT body FROM ledger_entries ORDER BY seq DESC LIMIT 1")).scalar_one()
    assert b'"refs":{"business":"clinic@contoso.com"}' in body and b'"subject"' not in body


def test_erase_subject_and_destroy_category_refuse_while_held_and_run_after_release(ledger, keystore):
    subject = _collect(ledger)
    hold = _place(ledger, "subject", subject)
    with pytest.raises(Held) as refused:
        ledger.erase_subject(subject, reason="erasure-request")
    assert refused.value.hold_ids == (hold.id,) and subject not in str(refused.value)
    with pytest.raises(Held):
        ledger.destroy_category(subject, "contact", reason="retention-expired")
    assert set(keystore.existing_keys(subject)) >= {"contact", "identity"}
    with ledger.transaction() as tx:
        assert tx.session.scalar(select(func.count()).select_from(ErasureIntent)) == 0
    _release(ledger, hold.id)
    ledger.destroy_category(subject, "contact", reason="retention-expired")
    ledger.erase_subject(subject, reason="erasure-request")
    assert _erased(ledger, subject) and keystore.existing_keys(subject) == {}


def test_a_subject_with_two_holds_stays_held_until_the_last_is_released(ledger):
    """Releasing one of two holds leaves the other protecting (one flag per subject could not)."""
    subject = _collect(ledger)
    first, second = _place(ledger, "subject", subject), _place(ledger, "subject", subject)
    _release(ledger, first.id)
    with pytest.raises(Held) as refused:
        ledger.erase_subject(subject, reason="erasure-request")
    assert refused.value.hold_ids == (second.id,)
    _release(ledger, second.id)
    ledger.erase_subject(subject, reason="erasure-request")


def test_a_hold_lapses_at_its_end_without_an_entry(ledger, db, clock):
    subject = _collect(ledger)
    hold = _place(ledger, "subject", subject, ends_at=clock() + timedelta(days=1))
    clock.advance(hours=23, minutes=59)
    with ledger.transaction() as tx:
        assert [h.id for h in active_holds(tx.session, clock())] == [hold.id]
    with pytest.raises(Held):
        ledger.erase_subject(subject, reason="erasure-request")
    clock.advance(minutes=1)
    with ledger.transaction() as tx:
        assert active_holds(tx.session, clock()) == [] and holds_covering(tx.session, clock(), subject=subject) == []
    before = len(_entries(db))
    ledger.erase_subject(subject, reason="erasure-request")
    assert [row.kind for row in _entries(db)[before:]] == ["erased", "key-destroyed"]


def test_holds_covering_matches_scope_and_target(ledger, clock):
    on_subject, on_appointment, on_business = (_place(ledger, "subject", "s-1"), _place(ledger, "appointment", "AAMk-1"),
                                               _place(ledger, "business", "clinic@contoso.com"))
    _place(ledger, "appointment", "s-1")   # an appointment id equal to a subject ref covers no subject
    with ledger.transaction() as tx:
        def covering(**scope):
            return {hold.id for hold in holds_covering(tx.session, clock(), **scope)}

        assert covering(subject="s-1") == {on_subject.id}
        assert covering(appointment_ids=["AAMk-1", "AAMk-2"]) == {on_appointment.id}
        assert covering(subject="s-2", business_ids=["clinic@contoso.com"]) == {on_business.id}
        assert covering(subject="s-2", appointment_ids=["AAMk-2"], business_ids=["other@contoso.com"]) == set()
        assert covering() == set()


def test_releasing_an_unknown_or_released_hold_is_refused(ledger):
    hold = _place(ledger, "subject", "s-1")
    _release(ledger, hold.id)
    for hold_id in (hold.id, "no-such-hold"):
        with pytest.raises(UnknownHold):
            _release(ledger, hold_id)


@pytest.mark.parametrize(("scope", "ends_in"), [("person", None), ("subject", timedelta(0))])
def test_a_hold_needs_a_known_scope_and_an_end_in_the_future(ledger, clock, scope, ends_in):
    with pytest.raises(ValueError):
        _place(ledger, scope, "s-1", ends_at=clock() + ends_in if ends_in is not None else None)


def test_a_hold_committing_while_an_erasure_waits_for_the_lock_is_seen(ledger):
    """The hold's transaction has appended (holding the chain's lock) but not committed when the
    erasure starts: the erasure's check waits for that lock, so it sees the hold once committed."""
    subject = _collect(ledger)
    placed, commit = threading.Event(), threading.Event()
    hold_ids: list[str] = []

    def place_and_linger() -> None:
        with ledger.transaction() as tx:
            hold_ids.append(place_hold(tx, "subject", subject, reason=REASON, placed_by="Jane", ends_at=None).id)
            placed.set()
            commit.wait(10)

    placer = threading.Thread(target=place_and_linger)
    placer.start()
    assert placed.wait(10)
    threading.Timer(0.5, commit.set).start()   # the erasure below is waiting by then
    try:
        with pytest.raises(Held) as refused:
            ledger.erase_subject(subject, reason="erasure-request")
    finally:
        commit.set()
        placer.join(10)
    assert refused.value.hold_ids == tuple(hold_ids) and not _erased(ledger, subject)


def test_a_hold_placed_while_an_erasure_is_in_flight_lets_that_erasure_finish(ledger, keystore, monkeypatch):
    """Intent committed, keys being destroyed, then a hold: the erasure was decided before the hold
    and finishes; the hold is on record after it. The next erasure of anyone it covers is refused."""
    subject = _collect(ledger)
    destroying, proceed = threading.Event(), threading.Event()
    destroy = keystore.destroy_subject

    def paused_destroy(ref):
        destroying.set()
        proceed.wait(10)
        return destroy(ref)

    monkeypatch.setattr(keystore, "destroy_subject", paused_destroy)
    receipts = []
    eraser = threading.Thread(target=lambda: receipts.append(ledger.erase_subject(subject, reason="erasure-request")))
    eraser.start()
    try:
        assert destroying.wait(10)
        hold = _place(ledger, "subject", subject)
    finally:
        proceed.set()
        eraser.join(30)
    assert receipts and _erased(ledger, subject)
    with ledger.transaction() as tx:
        assert [h.id for h in holds_covering(tx.session, ledger.clock(), subject=subject)] == [hold.id]


def test_an_intent_left_by_a_crash_is_finished_even_after_a_hold(ledger, keystore, monkeypatch):
    """A crash after the intent leaves it pending; a hold placed then does not stop `finish_erasures`:
    the keys may be gone already, and refusing would leave the erasure half done."""
    subject = _collect(ledger)

    def power_cut(*_args):
        raise ConnectionAbortedError("power cut")

    monkeypatch.setattr(keystore, "destroy_subject", power_cut)
    with pytest.raises(ConnectionAbortedError):
        ledger.erase_subject(subject, reason="erasure-request")
    monkeypatch.undo()
    _place(ledger, "subject", subject)
    (receipt,) = ledger.finish_erasures()
    assert receipt.subject == subject and _erased(ledger, subject)
