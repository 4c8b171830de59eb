"""Legal holds through the dashboard: placed and released by the officer, on the record with ids only,
honoured by the ledger's erasure; the auditor reads but cannot change; a form with a mistake comes back
with what was typed and the reason."""
from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

import pytest
from sqlalchemy import text

from dashboard.context import EXTENSION
from ledger.holds import Held, active_holds, all_holds
from tests.dashboard.conftest import NOW
from tests.dashboard.other_parts_endpoints import add_missing_endpoints

REASON = "Tax audit 2026: Ann Example's complaint"
CUSTOMER = {"email": "ann@example.org", "name": "Ann Example"}


@pytest.fixture(autouse=True)
def _layout_links(dashboard_app):
    add_missing_endpoints(dashboard_app)


def csrf_token(client, url="/holds") -> str:
    """The CSRF token of the session, as the page's forms carry it."""
    page = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def collected_subject(dashboard) -> str:
    with dashboard.ledger.transaction() as tx:
        subject = tx.new_subject()
        tx.collect(subject, CUSTOMER, categories={"email": "booking.contact", "name": "booking.identity"},
                   purpose="appointment", refs={"appointment": "AAMk-1"})
    return subject


def place(client, **form):
    return client.post("/holds", data={"csrf_token": csrf_token(client), **form})


def chain(dashboard) -> list[tuple[str, str | None, bytes]]:
    with dashboard.engine.connect() as connection:
        return list(connection.execute(text(
            "SELECT i.kind, i.subject_ref, e.body FROM entry_index i JOIN ledger_entries e ON e.seq = i.seq ORDER BY i.seq")))


def holds(dashboard):
    with dashboard.ledger.transaction() as tx:
        return all_holds(tx.session)


def test_a_hold_placed_and_released_through_the_pages_stops_then_allows_erasure(dashboard, officer):
    subject = collected_subject(dashboard)
    placed = place(officer, scope="subject", target=subject, reason=REASON, ends="")
    assert placed.status_code == 303 and placed.headers["Location"].endswith("/holds")
    (hold,) = holds(dashboard)
    assert (hold.scope, hold.target, hold.reason, hold.placed_by, hold.ends_at) == ("subject", subject, REASON,
                                                                                   "local:officer", None)
    page = officer.get("/holds")
    body = page.get_data(as_text=True)
    assert f"Hold {hold.id} placed." in body and "Tax audit 2026: Ann Example&#39;s complaint" in body
    assert page.headers["Cache-Control"] == "no-store"
    with pytest.raises(Held):
        dashboard.ledger.erase_subject(subject, reason="retention")

    released = officer.post(f"/holds/{hold.id}/release",
                            data={"csrf_token": csrf_token(officer), "release_reason": "Audit closed, Ann told"})
    assert released.status_code == 303
    assert f"Hold {hold.id} released." in officer.get("/holds").get_data(as_text=True)
    (hold,) = holds(dashboard)
    assert (hold.released_by, hold.release_reason) == ("local:officer", "Audit closed, Ann told")
    dashboard.ledger.erase_subject(subject, reason="retention")

    entries = [(kind, ref, body) for kind, ref, body in chain(dashboard) if kind.startswith("hold-")]
    assert [(kind, ref) for kind, ref, _ in entries] == [("hold-placed", subject), ("hold-released", subject)]
    for _, _, body in entries:
        assert hold.id.encode() in body
        for free_text in (b"Ann", b"Tax audit", b"Audit closed", b"officer"):
            assert free_text not in body


def test_a_hold_with_an_end_lasts_through_that_day(dashboard, officer):
    place(officer, scope="business", target="clinic@contoso.com", reason="Case 14", ends="2026-12-31")
    (hold,) = holds(dashboard)
    assert hold.ends_at.isoformat() == "2027-01-01T00:00:00+00:00"
    assert "2027-01-01T00:00:00+00:00" in officer.get("/holds").get_data(as_text=True)


@pytest.mark.parametrize("form, field_error", [
    ({"scope": "subject", "target": "no-such-subject", "reason": "Case 14", "ends": ""}, "knows no subject with that ref"),
    ({"scope": "business", "target": "clinic@contoso.com", "reason": "Case 14", "ends": "2026-11-30"}, "ended already"),
    ({"scope": "business", "target": "clinic@contoso.com", "reason": "   ", "ends": ""}, "Give the reason"),
    ({"scope": "business", "target": "", "reason": "Case 14", "ends": ""}, "Give what the hold covers"),
    ({"scope": "everything", "target": "clinic@contoso.com", "reason": "Case 14", "ends": ""}, "Choose one of"),
    ({"scope": "business", "target": "clinic@contoso.com", "reason": "Case 14", "ends": "next week"}, "not an ISO date"),
])
def test_a_form_with_a_mistake_comes_back_with_what_was_typed_and_places_nothing(dashboard, officer, form, field_error):
    answer = place(officer, **form)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 400 and field_error in body and "The hold was not placed" in body
    assert answer.headers["Cache-Control"] == "no-store"
    for name in ("target", "reason", "ends"):
        if form[name].strip():
            assert f'name="{name}" required value="{form[name]}"' in body or f'value="{form[name]}"' in body
    if form["scope"] == "business":
        assert '<option value="business" selected>' in body
    assert holds(dashboard) == [] and not [kind for kind, _, _ in chain(dashboard) if kind.startswith("hold-")]


def test_a_release_without_a_reason_comes_back_and_the_hold_stays(dashboard, officer):
    place(officer, scope="business", target="clinic@contoso.com", reason="Case 14", ends="")
    (hold,) = holds(dashboard)
    answer = officer.post(f"/holds/{hold.id}/release", data={"csrf_token": csrf_token(officer), "release_reason": " "})
    assert answer.status_code == 400 and "Give the reason the hold ends." in answer.get_data(as_text=True)
    with dashboard.ledger.transaction() as tx:
        assert [h.id for h in active_holds(tx.session, NOW)] == [hold.id]


def test_releasing_a_hold_twice_says_there_is_none_to_release(dashboard, officer):
    place(officer, scope="business", target="clinic@contoso.com", reason="Case 14", ends="")
    (hold,) = holds(dashboard)
    form = {"csrf_token": csrf_token(officer), "release_reason": "Closed"}
    assert officer.post(f"/holds/{hold.id}/release", data=form).status_code == 303
    again = officer.post(f"/holds/{hold.id}/release", data=form)
    assert again.status_code == 409 and "no active hold with that id" in again.get_data(as_text=True)
    assert [kind for kind, _, _ in chain(dashboard) if kind.startswith("hold-")] == ["hold-placed", "hold-released"]


def test_the_auditor_sees_the_holds_but_cannot_place_or_release(dashboard, officer, auditor):
    place(officer, scope="appointment", target="AAMk-7", reason="Complaint 88", ends="")
    (hold,) = holds(dashboard)
    page = auditor.get("/holds").get_data(as_text=True)
    assert "Complaint 88" in page and "Place hold" not in page and "Release reason" not in page
    token = csrf_token(auditor)
    assert auditor.post("/holds", data={"csrf_token": token, "scope": "business", "target": "B",
                                        "reason": "x"}).status_code == 403
    assert auditor.post(f"/holds/{hold.id}/release", data={"csrf_token": token, "release_reason": "x"}).status_code == 403
    assert [h.released_at for h in holds(dashboard)] == [None] and len(holds(dashboard)) == 1


def test_a_post_without_the_csrf_token_is_refused(dashboard, officer):
    assert officer.post("/holds", data={"scope": "business", "target": "B", "reason": "x"}).status_code == 400
    assert holds(dashboard) == []


def test_the_page_lists_the_holds_that_ended_by_release_or_by_their_end(dashboard, officer, dashboard_app):
    place(officer, scope="business", target="released-business", reason="Case 1", ends="")
    place(officer, scope="business", target="lapsing-business", reason="Case 2", ends="2026-12-01")
    (released,) = [hold for hold in holds(dashboard) if hold.target == "released-business"]
    officer.post(f"/holds/{released.id}/release", data={"csrf_token": csrf_token(officer), "release_reason": "Done"})
    two_days_later = dataclasses.replace(dashboard, clock=lambda: NOW + timedelta(days=2))
    dashboard_app.extensions[EXTENSION] = two_days_later
    body = officer.get("/holds").get_data(as_text=True)
    ended = body.split("<h2>Ended holds</h2>")[1]
    assert "No active holds." in body
    assert "released-business" in ended and "<code>local:officer</code>: Done" in ended
    assert "lapsing-business" in ended and "lapsed at its end, 2026-12-02T00:00:00+00:00" in ended
