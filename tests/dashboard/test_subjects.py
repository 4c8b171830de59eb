"""Search, the subject page and the audited clear view: identifiers never in a URL, the `viewed` entry
committed before a value is shown, a reason from everyone, no personal data for the Admin."""
from __future__ import annotations

import re

import pytest
from flask import template_rendered
from sqlalchemy import text

from bookings_data import (ADA, GRACE, chain, csrf_token, ingest, link_pages_not_yet_built, links, personal_values, post,
                           reveal)
from dashboard.viewing import USER_AGENT_LIMIT
from ledger.views import view, views_of


@pytest.mark.parametrize("form", [
    {"email": "  ada.lovelace@EXAMPLE.com "},
    {"email": "Ada.Lovelace@example.COM"},
    {"phone": "+44 (0)20 7946 0018"},
    {"phone": "+442079460018"},
])
def test_search_finds_the_subject_by_differently_written_email_or_phone(dashboard, officer, form):
    ada = ingest(dashboard)
    ingest(dashboard, "a-2", customer=GRACE)
    page = post(officer, "/subjects", **form)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.findall(r'<a class="ref" href="/subjects/([0-9a-f]{32})">\1</a>', html) == [ada]
    assert "2 active" in html     # the appointment and the customer record


def test_search_results_never_carry_the_identifier_in_a_url_or_the_page(dashboard, officer, auditor):
    ingest(dashboard)
    for client in (officer, auditor):
        for form in ({"email": ADA.email}, {"phone": ADA.phone}):
            page = post(client, "/subjects", **form)
            html = page.get_data(as_text=True)
            for url in links(html):
                assert not any(value.lower() in url.lower() for value in personal_values(ADA)), url
            assert not any(value in html for value in personal_values(ADA))
            assert page.request.url.endswith("/subjects") and "?" not in page.request.url


@pytest.mark.parametrize("form", [{"email": "quimby-without-at-sign"}, {"phone": "quimby-555"}])
def test_a_malformed_identifier_gets_a_clear_message_that_does_not_repeat_it(officer, form):
    page = post(officer, "/subjects", **form)
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "not an email address or phone number that can be searched for" in html
    assert "quimby" not in html


def test_an_empty_search_asks_for_an_identifier(officer):
    page = post(officer, "/subjects", email="  ", phone="")
    assert page.status_code == 400 and "Enter an email address or a phone number." in page.get_data(as_text=True)


def test_no_match_says_so(dashboard, officer):
    ingest(dashboard)
    assert "No subject matches." in post(officer, "/subjects", email="nobody@example.com").get_data(as_text=True)


def test_the_subject_page_shows_the_timeline_and_no_personal_data(dashboard, officer):
    ada = ingest(dashboard)
    html = officer.get(f"/subjects/{ada}").get_data(as_text=True)
    assert f'<h1>Subject <span class="ref">{ada}</span></h1>' in html
    assert "<h2>Timeline</h2>" in html and "collected" in html and "booking.contact" in html
    assert "/records/appointment/a-1" in html
    assert '<label for="reveal-reason">Reason</label>' in html and "Show personal data</button>" in html
    assert not any(value in html for value in personal_values(ADA))
    assert chain(dashboard, "viewed") == []


def test_an_unknown_subject_is_404(dashboard, officer):
    assert officer.get("/subjects/" + "0" * 32).status_code == 404
    assert officer.get("/subjects/not-a-ref").status_code == 404
    assert reveal(officer, "0" * 32).status_code == 404
    assert chain(dashboard) == []


def test_the_officer_reveal_records_one_viewed_entry_naming_actor_and_purpose(dashboard, officer):
    ada = ingest(dashboard)
    page = reveal(officer, ada, **{"User-Agent": "Mozilla/5.0 OfficerBrowser"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert f'<h1>Personal data of <span class="ref">{ada}</span></h1>' in html
    assert ADA.name in html and ADA.notes in html
    (viewed,) = chain(dashboard, "viewed")
    assert (viewed["subject"], viewed["actor"], viewed["purpose"]) == (ada, "local:officer", "review")
    assert "Access request" not in str(viewed) and "OfficerBrowser" not in str(viewed)
    with dashboard.ledger.transaction() as tx:
        (row,) = views_of(tx.session, "local:officer")
        assert viewed["refs"] == {"view": row.view_id}
        context = tx.read_personal_data(view(tx.session, row.view_id).viewer_subject, viewer="test", purpose="check")
    assert context == {"viewer_ip": "127.0.0.1", "viewer_user_agent": "Mozilla/5.0 OfficerBrowser",
                       "view_reason": "Access request 2026-31"}


def test_the_viewed_entry_is_committed_before_the_values_are_rendered(dashboard, dashboard_app, officer):
    """At the moment the clear page is rendered, a separate connection already sees the entry."""
    ada = ingest(dashboard)
    committed_at_render = []

    def count_viewed(sender, template, context, **extra):
        if template.name == "subjects/personal_data.html":
            with dashboard.engine.connect() as connection:
                committed_at_render.append(connection.execute(
                    text("SELECT count(*) FROM entry_index WHERE kind = 'viewed'")).scalar())

    with template_rendered.connected_to(count_viewed, dashboard_app):
        assert ADA.name in reveal(officer, ada).get_data(as_text=True)
    assert committed_at_render == [1]


def test_when_the_viewed_entry_cannot_be_written_nothing_is_shown(dashboard, dashboard_app, officer):
    """The chain refuses the entry (a trigger, as a full disk or a lost lock would): no value leaves."""
    ada = ingest(dashboard)
    with dashboard.engine.begin() as connection:
        connection.execute(text("CREATE TRIGGER refuse_viewed BEFORE INSERT ON entry_index WHEN NEW.kind = 'viewed'"
                                " BEGIN SELECT RAISE(ABORT, 'refused'); END"))
    dashboard_app.config["PROPAGATE_EXCEPTIONS"] = False
    page = reveal(officer, ada)
    assert page.status_code == 500
    assert not any(value in page.get_data(as_text=True) for value in personal_values(ADA))
    assert chain(dashboard, "viewed") == []


@pytest.mark.parametrize("reason", ["", "    "])
def test_a_reason_is_required_from_everyone(dashboard, officer, auditor, reason):
    ada = ingest(dashboard)
    for client in (officer, auditor):
        page = reveal(client, ada, reason=reason)
        html = page.get_data(as_text=True)
        assert page.status_code == 400 and "Give a reason" in html
        assert not any(value in html for value in personal_values(ADA))
    assert chain(dashboard, "viewed") == []


def test_the_auditor_can_reveal_with_a_reason(dashboard, auditor):
    ada = ingest(dashboard)
    assert ADA.email in reveal(auditor, ada, reason="Quarterly audit sample").get_data(as_text=True)
    (viewed,) = chain(dashboard, "viewed")
    assert (viewed["actor"], viewed["purpose"]) == ("local:auditor", "audit")


def test_the_admin_can_neither_search_nor_open_nor_reveal_a_subject(dashboard, admin):
    ada = ingest(dashboard)
    for response in (admin.get("/subjects"), admin.get(f"/subjects/{ada}")):
        assert response.status_code == 403
    token = csrf_token(admin)   # from the refusal page's sign-out form: the guard, not CSRF, must refuse
    page = admin.post(f"/subjects/{ada}/personal-data", data={"csrf_token": token, "reason": "curious"})
    assert page.status_code == 403 and ADA.name not in page.get_data(as_text=True)
    assert admin.post("/subjects", data={"csrf_token": token, "email": ADA.email}).status_code == 403
    assert chain(dashboard, "viewed") == []


def test_an_erased_subject_shows_a_clear_message_and_records_no_view(dashboard, officer):
    ada = ingest(dashboard)
    dashboard.ledger.erase_subject(ada, reason="erasure-request")
    assert "This subject was erased" in officer.get(f"/subjects/{ada}").get_data(as_text=True)
    html = reveal(officer, ada).get_data(as_text=True)
    assert "This subject was erased: no personal data of it is held." in html
    assert chain(dashboard, "viewed") == []


def test_a_destroyed_category_is_named_and_the_rest_shown(dashboard, officer):
    ada = ingest(dashboard)
    dashboard.ledger.destroy_category(ada, "booking.notes", reason="retention-expired")
    html = reveal(officer, ada).get_data(as_text=True)
    assert ADA.name in html and ADA.notes not in html
    assert "booking.notes: destroyed" in html and "retention-expired" in html


def test_a_long_user_agent_is_cut_to_512_characters(dashboard, officer):
    ada = ingest(dashboard)
    reveal(officer, ada, **{"User-Agent": "A" * 2000})
    with dashboard.ledger.transaction() as tx:
        (row,) = views_of(tx.session, "local:officer")
        context = tx.read_personal_data(row.viewer_subject, viewer="test", purpose="check")
    assert context["viewer_user_agent"] == "A" * USER_AGENT_LIMIT


@pytest.fixture(autouse=True)
def _other_pages(dashboard_app):
    link_pages_not_yet_built(dashboard_app)
