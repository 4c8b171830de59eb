"""The privacy officer's request pages, on SQLite and PostgreSQL: a telephone request recorded with
its deadline, the queue's badges and filters, every decision made through ledger/requests.py (a
refused one shown with the ledger's reason), a run queued only when the gate would let it start,
with the officer's choice per future appointment for an erasure; the requester's details seen only
through an audited view; the overview's alerts and /metrics counting the same requests. Who asked
never reaches a URL, the queue, the chain or the log."""
from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select, text
from sqlalchemy.orm import Session

from jobs.requests.export import build_export
from jobs.requests.facts import CertificateFacts
from ledger import requests
from ledger.certificates import issue_certificate
from ledger.checkpoint_store import CheckpointSigner
from ledger.core.certificates import verify_certificate
from ledger.models import RequestProjection
from ledger.requests import Intake, RequestRules
from ledger.views import ViewAudit
from overview_data import NOW, ingest, table_rows
from state import request_runs

EMAIL, PHONE, WORDS = "ann.example@example.org", "+353 1 555 0142", "Please delete everything about Ann Example"


@pytest.fixture
def dashboard_settings(dashboard_settings, database_factory, tmp_path):
    """The dashboard's settings over a database of the parametrized backend."""
    return {**dashboard_settings, "DATABASE_URL": database_factory.new_url(),
            "KEYSTORE_URL": database_factory.new_database_url(), "EXPORT_DIR": str(tmp_path / "exports")}


def csrf(client, url: str = "/requests/new") -> str:
    page = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def record(client, **form):
    """POST the intake form (a telephone erasure unless told otherwise)."""
    fields = {"request_type": "erasure", "channel": "telephone", "regime": "gdpr", "email": EMAIL, "phone": "",
              "received": "", "text": WORDS, **form}
    return client.post("/requests/new", data={"csrf_token": csrf(client), **fields})


def recorded_id(response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)
    return re.fullmatch(r"/requests/(req_[0-9a-f]{16})", response.headers["Location"]).group(1)


def received(dashboard, request_type="access", **intake) -> str:
    with dashboard.ledger.transaction() as tx:
        return requests.receive(tx, Intake(request_type, intake.pop("channel", "email"), **intake),
                                RequestRules.from_settings(dashboard.settings)).request_id


def projection(dashboard, request_id: str) -> RequestProjection:
    with Session(dashboard.engine) as session:
        return session.get(RequestProjection, request_id)


def decide(client, request_id: str, action: str, **form):
    url = f"/requests/{request_id}"
    return client.post(f"{url}/{action}", data={"csrf_token": csrf(client, url), **form})


def chain_bodies(dashboard) -> bytes:
    with dashboard.engine.connect() as connection:
        return b"\n".join(bytes(body) for (body,) in connection.execute(text("SELECT body FROM ledger_entries")))


def test_a_telephone_request_is_recorded_with_its_deadline_and_who_asked_stays_encrypted(dashboard, officer, caplog):
    request_id = recorded_id(record(officer, phone=PHONE))
    stored = projection(dashboard, request_id)
    assert (stored.channel, stored.request_type, stored.state, stored.regime) == ("telephone", "erasure",
                                                                                  "awaiting-verification", "gdpr")
    # Received 1 December; one month is New Year's Day, an Irish holiday, so Monday 4 January.
    assert stored.due_at == "2027-01-05T00:00:00.000000Z"
    page = officer.get(f"/requests/{request_id}").get_data(as_text=True)
    assert "end of 2027-01-04 (Europe/Dublin)" in page and "34 days left" in page
    queue = officer.get("/requests").get_data(as_text=True)
    assert table_rows(queue, "<caption>Requests")[0][:5] == [request_id, "awaiting-verification", "erasure", "gdpr",
                                                            "telephone"]
    for shown in (page, queue):
        assert "ann.example" not in shown and "555 0142" not in shown and "Ann Example" not in shown
    for value in (b"ann.example", b"5550142", b"555 0142", b"Ann Example"):
        assert value not in chain_bodies(dashboard)
    assert "ann.example" not in caplog.text and "Ann Example" not in caplog.text


def test_a_request_taken_earlier_runs_from_when_it_came_in_in_the_controllers_zone(dashboard, officer):
    request_id = recorded_id(record(officer, received="2026-11-30T23:30", request_type="access"))
    assert projection(dashboard, request_id).received_at == "2026-11-30T23:30:00.000000Z"   # Dublin is UTC in winter
    refused = record(officer, received="2026-12-02T09:00")
    assert refused.status_code == 400 and "cannot have come in after now" in refused.get_data(as_text=True)


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"email": "", "phone": ""}, "email", "Give an email address or a telephone number"),
    ({"email": "not-an-address"}, "email", "That is not an email address"),
    ({"email": "", "phone": "12"}, "phone", "That is not a valid phone number"),
    ({"request_type": "rectification"}, "correction.name", "A rectification says what to correct"),
    ({"channel": "portal"}, "channel", "Choose how the request came in"),
])
def test_an_incomplete_intake_comes_back_with_what_was_typed_and_records_nothing(dashboard, officer, form, field, message):
    answer = record(officer, **form)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 400 and message in body
    assert f'id="intake-{field.replace(".", "-")}-error"' in body
    assert WORDS in body                              # the officer's typing is kept, on their own page
    with Session(dashboard.engine) as session:
        assert session.query(RequestProjection).count() == 0


def test_a_rectification_keeps_the_corrections_with_the_requesters_details(dashboard, officer):
    request_id = recorded_id(record(officer, request_type="rectification", **{"correction.name": "Ann Exemplar"}))
    answer = decide(officer, request_id, "contact", reason="Checking the correction asked for")
    assert answer.status_code == 200 and "Ann Exemplar" in answer.get_data(as_text=True)
    assert b"Ann Exemplar" not in chain_bodies(dashboard)


def test_the_queue_shows_days_left_badges_and_filters_by_code(dashboard, officer):
    overdue = received(dashboard, "erasure", channel="telephone", phone=PHONE, received_at=NOW - timedelta(days=40))
    soon = received(dashboard, "access", email="b@example.org", received_at=NOW - timedelta(days=28))
    later = received(dashboard, "restriction", email="c@example.org", regime="ccpa")
    closed = received(dashboard, "access", email="d@example.org")
    with dashboard.ledger.transaction() as tx:
        requests.refuse(tx, closed, reason="excessive", note=None, by="local:officer")
    page = officer.get("/requests").get_data(as_text=True)
    rows = table_rows(page, "<caption>Requests")
    assert [row[0] for row in rows] == [overdue, soon, later]          # open ones, nearest deadline first
    badges = dict(re.findall(r'<a href="/requests/(req_\w+)"[^>]*>.*?<span class="badge badge-([\w-]+)">', page, re.S))
    assert badges == {overdue: "overdue", soon: "due-soon", later: "on-time"}
    assert "badge-overdue\">8 days overdue" in page
    assert [row[0] for row in table_rows(officer.get("/requests?due=overdue").get_data(as_text=True), "<caption>")] == [overdue]
    assert [row[0] for row in table_rows(officer.get("/requests?due=due-soon").get_data(as_text=True), "<caption>")] == [soon]
    assert [row[0] for row in table_rows(officer.get("/requests?regime=ccpa").get_data(as_text=True), "<caption>")] == [later]
    assert [row[0] for row in table_rows(officer.get("/requests?channel=telephone").get_data(as_text=True), "<caption>")] == [overdue]
    assert [row[0] for row in table_rows(officer.get("/requests?state=closed").get_data(as_text=True), "<caption>")] == [closed]
    assert len(table_rows(officer.get("/requests?state=all&type=access").get_data(as_text=True), "<caption>")) == 2
    # An unknown filter value is no filter, never an error.
    assert officer.get("/requests?state=<script>&type=nonsense").status_code == 200


def test_a_draft_from_the_mailbox_is_confirmed_under_the_type_the_officer_chose_or_discarded(dashboard, officer):
    draft = received(dashboard, "access", email=EMAIL, draft=True, received_at=NOW - timedelta(days=2))
    page = officer.get(f"/requests/{draft}").get_data(as_text=True)
    assert "Confirm request" in page and "Record verification" not in page
    assert decide(officer, draft, "confirm", request_type="erasure", regime="gdpr").status_code == 303
    confirmed = projection(dashboard, draft)
    assert (confirmed.state, confirmed.request_type) == ("awaiting-verification", "erasure")
    assert confirmed.received_at == "2026-11-29T09:30:00.000000Z"        # the mail's receipt, not the confirmation
    again = decide(officer, draft, "discard")
    assert again.status_code == 409 and "this needs it draft" in again.get_data(as_text=True)
    other = received(dashboard, "access", email="spam@example.org", draft=True)
    assert decide(officer, other, "discard").status_code == 303
    assert projection(dashboard, other).state == "discarded"


def test_the_officers_verification_records_the_names_of_the_points_matched(dashboard, officer):
    request_id = received(dashboard, "access", email=EMAIL, regime="ccpa")
    nothing = decide(officer, request_id, "verify")
    assert nothing.status_code == 400 and "at least one" in nothing.get_data(as_text=True)
    assert decide(officer, request_id, "verify", data_points=["email", "name", "appointment"], declaration="yes").status_code == 303
    verified = projection(dashboard, request_id)
    assert (verified.state, verified.verification) == ("verified", "high")
    (entry,) = [body for body in chain_bodies(dashboard).split(b"\n") if b"request-verified" in body]
    assert b'"method":"officer"' in entry and b'"appointment","email","name"' in entry and b"local:officer" in entry


def test_an_extension_moves_the_deadline_once_and_the_overview_chart_shows_it(dashboard, officer):
    request_id = received(dashboard, "access", email=EMAIL)
    missing = decide(officer, request_id, "extend", reason="", note="")
    assert missing.status_code == 400 and "Choose the reason." in missing.get_data(as_text=True)
    assert decide(officer, request_id, "extend", reason="complexity", note="Ann's records span three clinics").status_code == 303
    extended = projection(dashboard, request_id)
    assert extended.due_at > extended.first_due_at and extended.extended_at is not None
    assert b"three clinics" not in chain_bodies(dashboard)       # the note is encrypted with the requester
    page = officer.get(f"/requests/{request_id}").get_data(as_text=True)
    assert "Extend deadline" not in page and "the first deadline was end of 2027-01-04" in page
    twice = decide(officer, request_id, "extend", reason="complexity", note="")
    assert twice.status_code == 409 and "the law allows one extension" in twice.get_data(as_text=True)
    overview = officer.get("/").get_data(as_text=True)
    assert table_rows(overview, "Open data-subject requests") == [[request_id, "90", "extended"]]


def test_a_refusal_closes_the_request_with_its_reason_and_offers_nothing_more(dashboard, officer):
    request_id = received(dashboard, "erasure", email=EMAIL)
    assert decide(officer, request_id, "reject", reason="manifestly-unfounded", note="Third such mail").status_code == 303
    assert (projection(dashboard, request_id).state, projection(dashboard, request_id).outcome) == ("refused", "refused")
    page = officer.get(f"/requests/{request_id}").get_data(as_text=True)
    assert "Decisions" not in page and "Reject request" not in page
    late = decide(officer, request_id, "verify", data_points=["email"])
    assert late.status_code == 409 and "Not verified: request" in late.get_data(as_text=True)


def test_an_unverified_request_is_never_queued_to_run(dashboard, officer):
    request_id = received(dashboard, "erasure", email=EMAIL)
    refused = decide(officer, request_id, "run")
    assert refused.status_code == 409
    assert "Not queued: request " + request_id + " is awaiting-verification" in refused.get_data(as_text=True)
    weak = received(dashboard, "erasure", email="ccpa@example.org", regime="ccpa")
    decide(officer, weak, "verify", data_points=["email"])             # CCPA erasure needs two points
    assert decide(officer, weak, "run").status_code == 409
    duplicate = received(dashboard, "erasure", email=EMAIL)             # same person, same type: linked
    assert projection(dashboard, duplicate).state == "duplicate"
    assert decide(officer, duplicate, "run").status_code == 409
    with Session(dashboard.engine) as session:
        assert request_runs.queued_runs(session) == []


def test_an_erasure_is_queued_with_the_officers_choice_for_each_future_appointment(dashboard, officer):
    ingest(dashboard, "AAMk-soon", start=NOW + timedelta(days=3), customer_number=7)
    ingest(dashboard, "AAMk-later", start=NOW + timedelta(days=20), customer_number=7)
    ingest(dashboard, "AAMk-past", start=NOW - timedelta(days=20), customer_number=7)
    ingest(dashboard, "AAMk-someone-else", start=NOW + timedelta(days=5), customer_number=8)
    request_id = received(dashboard, "erasure", channel="telephone", email="person7@example.org")
    decide(officer, request_id, "verify", data_points=["email", "appointment"])
    page = officer.get(f"/requests/{request_id}").get_data(as_text=True)
    assert re.findall(r'name="choice\.([^"]+)" value="cancel"', page) == ["AAMk-soon", "AAMk-later"]
    partial = decide(officer, request_id, "run", **{"choice.AAMk-soon": "cancel"})
    assert partial.status_code == 400 and "for every future appointment" in partial.get_data(as_text=True)
    assert decide(officer, request_id, "run", **{"choice.AAMk-soon": "cancel", "choice.AAMk-later": "keep"}).status_code == 303
    with Session(dashboard.engine) as session:
        (queued,) = request_runs.queued_runs(session)
    assert (queued.request_id, queued.queued_by, queued.choices) == (request_id, "local:officer",
                                                                     {"AAMk-soon": "cancel", "AAMk-later": "keep"})
    assert "AAMk-soon</span> cancel" in officer.get(f"/requests/{request_id}").get_data(as_text=True)


def test_the_requesters_details_are_shown_only_through_an_audited_view(dashboard, officer, auditor):
    request_id = recorded_id(record(officer, phone=PHONE))
    no_reason = decide(auditor, request_id, "contact", reason=" ")
    assert no_reason.status_code == 400 and EMAIL not in no_reason.get_data(as_text=True)
    shown = decide(auditor, request_id, "contact", reason="Quarterly audit of request handling")
    body = shown.get_data(as_text=True)
    assert shown.status_code == 200 and EMAIL in body and WORDS in body
    assert shown.headers["Cache-Control"] == "no-store"
    requester = projection(dashboard, request_id).requester_ref
    with Session(dashboard.engine) as session:
        (view,) = session.query(ViewAudit).all()
    assert (view.actor, view.viewed_subject, view.purpose) == ("local:auditor", requester, "audit")
    assert b"Quarterly audit" not in chain_bodies(dashboard)


def test_the_auditor_reads_the_pages_but_decides_nothing(dashboard, auditor):
    request_id = received(dashboard, "erasure", email=EMAIL)
    page = auditor.get(f"/requests/{request_id}").get_data(as_text=True)
    assert "Record verification" not in page and "Record a request" not in auditor.get("/requests").get_data(as_text=True)
    for action in ("verify", "extend", "reject", "run", "confirm", "discard"):
        assert decide(auditor, request_id, action, data_points=["email"], reason="excessive").status_code == 403
    assert auditor.post("/requests/new", data={"csrf_token": csrf(auditor, "/requests"), "email": EMAIL}).status_code == 403
    assert projection(dashboard, request_id).state == "awaiting-verification"


def test_a_decision_without_the_sessions_csrf_token_changes_nothing(dashboard, officer):
    request_id = received(dashboard, "access", email=EMAIL)
    assert officer.post(f"/requests/{request_id}/verify", data={"data_points": "email"}).status_code == 400
    assert officer.post("/requests/new", data={"request_type": "access", "channel": "telephone", "regime": "gdpr",
                                               "email": EMAIL}).status_code == 400
    assert projection(dashboard, request_id).state == "awaiting-verification"


def test_the_overview_alerts_on_requests_due_soon_or_overdue(dashboard, officer, admin):
    assert "No data-subject request is open." in officer.get("/").get_data(as_text=True)
    later = received(dashboard, "access", email=EMAIL)
    block = officer.get("/").get_data(as_text=True)
    assert re.search(r'Data-subject requests</h2>\s*<p><span class="status-good">OK', block)
    overdue = received(dashboard, "erasure", email="b@example.org", received_at=NOW - timedelta(days=40))
    soon = received(dashboard, "access", email="c@example.org", received_at=NOW - timedelta(days=28))
    for client in (officer, admin):            # ids and deadlines only: the admin sees it too
        html = client.get("/").get_data(as_text=True)
        assert re.search(r'Data-subject requests</h2>\s*<p><span class="status-warn">Attention', html)
        assert "3 data-subject requests are open. 1 are past their deadline" in html and "1 are due within 7 days" in html
        rows = table_rows(html, "Data-subject requests</h2>")
        assert [(row[0], row[4]) for row in rows] == [(overdue, "-8"), (soon, "2")]
        assert later not in [row[0] for row in rows]


def test_metrics_count_open_requests_by_state_and_those_due_soon_or_overdue(dashboard_app, dashboard):
    received(dashboard, "access", email=EMAIL)
    received(dashboard, "erasure", email="b@example.org", received_at=NOW - timedelta(days=40))
    received(dashboard, "access", email="c@example.org", received_at=NOW - timedelta(days=28))
    received(dashboard, "opt-out", email="d@example.org")
    scraped = dashboard_app.test_client().get("/metrics").get_data(as_text=True)
    figures = dict(re.findall(r"^(bl_requests_\S+) (\S+)$", scraped, re.M))
    assert figures == {'bl_requests_open{state="draft"}': "0.0", 'bl_requests_open{state="awaiting-verification"}': "3.0",
                       'bl_requests_open{state="verified"}': "1.0", 'bl_requests_open{state="running"}': "0.0",
                       "bl_requests_due_soon": "1.0", "bl_requests_overdue": "1.0"}
    assert "req_" not in scraped and "example.org" not in scraped


def completed_access_request(dashboard) -> tuple[str, int, int]:
    """An access request of a requester the ledger holds nothing else of, run to completion: (id, started, completed)."""
    request_id = received(dashboard, "access", email=EMAIL, text=WORDS)
    with dashboard.ledger.transaction() as tx:
        requests.verify(tx, request_id, method="officer", data_points=["email"], by="local:officer")
        started = requests.start(tx, request_id, subjects=[], by="service:requests").last_seq
        completed = requests.complete(tx, request_id, outcome="done").last_seq
    return request_id, started, completed


def exported_entries(dashboard) -> list[dict]:
    return [json.loads(body) for body in chain_bodies(dashboard).split(b"\n") if b'"kind":"exported"' in body]


def test_the_officer_downloads_the_export_only_with_the_download_on_the_record(dashboard, officer, auditor):
    request_id, _started, _completed = completed_access_request(dashboard)
    with dashboard.ledger.transaction() as tx:
        request = requests.get(tx, request_id)
    # The requester is the only person: the archive needs nothing from Graph.
    record = build_export(dashboard.ledger, None, request, [], dashboard.clock, settings=dashboard.settings)
    assert "Download the export" in officer.get(f"/requests/{request_id}").get_data(as_text=True)
    assert "only the privacy officer downloads it" in auditor.get(f"/requests/{request_id}").get_data(as_text=True)
    assert auditor.get(f"/requests/{request_id}/export.zip").status_code == 403
    assert [entry["action"] for entry in exported_entries(dashboard)] == ["created"]

    download = officer.get(f"/requests/{request_id}/export.zip")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert download.headers["Content-Disposition"] == f'attachment; filename="{request_id}-export.zip"'
    assert download.headers["Cache-Control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        assert EMAIL in archive.read("export.json").decode()
    created, downloaded = exported_entries(dashboard)
    assert (downloaded["action"], downloaded["actor"], downloaded["refs"]) == (
        "downloaded", "local:officer", {"request": request_id, "export": record.export_id})
    Path(record.path).unlink()                  # the archive gone: nothing to hand out, nothing recorded
    assert officer.get(f"/requests/{request_id}/export.zip").status_code == 410
    assert len(exported_entries(dashboard)) == 2


def test_the_signed_certificate_downloads_as_issued_and_verifies_offline(dashboard, officer, auditor):
    request_id, started, completed = completed_access_request(dashboard)
    assert officer.get(f"/requests/{request_id}/certificate.json").status_code == 404    # not issued yet
    signer = CheckpointSigner.from_settings(dashboard.settings)
    issued = issue_certificate(dashboard.ledger, signer, request_id,
                               CertificateFacts(request_id, "access", "done", started_seq=started, completed_seq=completed))
    assert "Download the certificate (JSON, signed)" in auditor.get(f"/requests/{request_id}").get_data(as_text=True)
    for client in (officer, auditor):
        download = client.get(f"/requests/{request_id}/certificate.json")
        assert download.status_code == 200 and download.data.decode() == issued.text
        assert download.headers["Content-Disposition"] == f'attachment; filename="{issued.certificate_id}.json"'
    verify_certificate(download.data, signer.verifier_key)
    assert EMAIL.encode() not in download.data
    page = auditor.get(f"/requests/{request_id}/certificate.html")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert page.headers["Content-Disposition"] == f'attachment; filename="{issued.certificate_id}.html"'
    assert f"Certificate of request {request_id}" in page.get_data(as_text=True)


def test_no_table_holds_the_requesters_details_in_the_clear(dashboard, officer):
    """Carve every row of every table, on both backends, after a request went through each form
    that takes free text: the values are only ever ciphertext (and digests)."""
    request_id = recorded_id(record(officer, request_type="rectification", phone=PHONE,
                                    **{"correction.name": "Ann Exemplar"}))
    decide(officer, request_id, "extend", reason="complexity", note="Ann's records span three clinics")
    decide(officer, request_id, "reject", reason="excessive", note="Ann asked twelve times")
    decide(officer, request_id, "contact", reason="Reading Ann's words back")
    metadata = MetaData()
    metadata.reflect(dashboard.engine)
    with dashboard.engine.connect() as connection:
        cells = [str(value) for table in metadata.sorted_tables for row in connection.execute(select(table))
                 for value in row if value is not None]
    assert any(request_id in cell for cell in cells) and any("local:officer" in cell for cell in cells)   # it reads them all
    for secret in ("ann.example", "5550142", "555 0142", "Ann Example", "Ann Exemplar", "three clinics", "twelve times",
                   "Reading Ann"):
        assert not [cell for cell in cells if secret in cell], secret
