"""The record lists and a record's surfaces in Bookings: filters in GET parameters, no personal data,
and what the mirror, the anonymisation, the retention dates, the tombstone and the chain say."""
from __future__ import annotations

import re

import pytest

from bookings_data import ADA, CLINIC, GRACE, SALON, ingest, link_pages_not_yet_built, links, personal_values
from state.anonymisation import plan_operation, record_step


@pytest.fixture(autouse=True)
def _other_pages(dashboard_app):
    link_pages_not_yet_built(dashboard_app)


def listed(html: str) -> list[tuple[str, str]]:
    return re.findall(r'href="/records/(appointment|customer)/([^"]+)"', html)


def test_the_list_shows_every_record_and_filters_by_type_business_and_state(dashboard, officer):
    ingest(dashboard, "a-1", customer=ADA, business=CLINIC)
    ingest(dashboard, "a-2", customer=GRACE, business=SALON)
    assert sorted(listed(officer.get("/records").get_data(as_text=True))) == [
        ("appointment", "a-1"), ("appointment", "a-2"), ("customer", "c-ada"), ("customer", "c-grace")]
    html = officer.get(f"/records?type=appointment&business={SALON}").get_data(as_text=True)
    assert listed(html) == [("appointment", "a-2")]
    assert listed(officer.get(f"/records?type=customer&business={CLINIC}").get_data(as_text=True)) == [("customer", "c-ada")]
    assert listed(officer.get("/records?state=erased").get_data(as_text=True)) == []
    assert not any(value in html for value in personal_values(ADA) + personal_values(GRACE))


def test_the_list_pages_and_its_links_carry_only_the_filters(dashboard, officer, monkeypatch):
    from dashboard import records

    monkeypatch.setattr(records, "PAGE_SIZE", 1)
    ingest(dashboard, "a-1")
    ingest(dashboard, "a-2", customer=GRACE)
    first = officer.get("/records?type=appointment").get_data(as_text=True)
    (next_page,) = [url for url in links(first) if "page=2" in url]
    assert next_page.replace("&amp;", "&") == "/records?page=2&state=&type=appointment&business="
    second = officer.get(next_page.replace("&amp;", "&")).get_data(as_text=True)
    assert {*listed(first), *listed(second)} == {("appointment", "a-1"), ("appointment", "a-2")}
    assert "Next page" not in second


def test_a_record_page_shows_its_surfaces_in_bookings_and_no_personal_data(dashboard, officer):
    ada = ingest(dashboard)
    html = officer.get("/records/appointment/a-1").get_data(as_text=True)
    assert '<h1>Record appointment <span class="ref">a-1</span></h1>' in html
    assert "<h2>Surfaces in Bookings</h2>" in html
    assert CLINIC in html and "not matched" in html and f'href="/subjects/{ada}"' in html
    assert "booking.notes" in html and "P90D" in html           # its retention dates
    assert "collected" in html                                   # its ledger entry
    assert not any(value in html for value in personal_values(ADA))


def test_a_record_page_shows_the_anonymisation_and_its_steps(dashboard, officer):
    ada = ingest(dashboard)
    now = dashboard.clock()
    with dashboard.ledger.transaction() as tx:
        operation = plan_operation(tx.session, subject_ref=ada, business_id=CLINIC, object_type="appointment",
                                   object_id="a-1", categories=["booking.notes"], cause="retention", now=now)
        record_step(tx.session, operation.id, "appointment", "done", now, revision=0,
                    evidence={"action": "rewrite", "graph": [{"request_id": "req-77", "status": 200}]})
    html = officer.get("/records/appointment/a-1").get_data(as_text=True)
    assert operation.id in html and "retention of booking.notes" in html and "planned" in html
    assert "req-77" in html and "rewrite" in html


def test_an_erased_record_shows_its_tombstone(dashboard, officer):
    ada = ingest(dashboard)
    dashboard.ledger.erase_subject(ada, reason="erasure-request")
    html = officer.get("/records/customer/c-ada").get_data(as_text=True)
    assert "Tombstoned" in html and "erased" in html
    assert "erased" in officer.get("/records/appointment/a-1").get_data(as_text=True)


def test_an_unknown_record_is_404_and_the_admin_403(dashboard, officer, admin):
    ingest(dashboard)
    assert officer.get("/records/appointment/nope").status_code == 404
    assert officer.get("/records/event/a-1").status_code == 404
    assert admin.get("/records").status_code == 403
    assert admin.get("/records/appointment/a-1").status_code == 403
