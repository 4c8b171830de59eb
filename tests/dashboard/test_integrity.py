"""Integrity: the last verify and checkpoint, a verify from the page that is `bookings-ledger verify`
(a rewritten entry shows as tampered, naming it), and the signed checkpoint note to download."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from ledger.checkpoint_store import CheckpointSigner, check_note, publish_checkpoint
from overview_data import NOW, ingest, prepare, tamper_body, utc
from state.leases import last_runs


@pytest.fixture(autouse=True)
def _prepared(dashboard_app, dashboard):
    prepare(dashboard_app, dashboard)


def token(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/integrity").get_data(as_text=True)).group(1)


def verify(client):
    return client.post("/integrity/verify", data={"csrf_token": token(client)})


def checkpoint(dashboard, at=NOW):
    return publish_checkpoint(dashboard.engine, CheckpointSigner.from_settings(dashboard.settings), at,
                              dashboard.settings.CHECKPOINT_DIR)


def test_the_page_shows_the_evidence_and_the_verifier_key_an_auditor_needs(dashboard, auditor):
    html = auditor.get("/integrity").get_data(as_text=True)
    assert "<h1>Ledger integrity</h1>" in html
    assert re.search(r"Last successful full verify</th>\s*<td>never", html)
    assert "none yet" in html and "Download the latest checkpoint" not in html
    assert dashboard.settings.CHECKPOINT_VERIFIER_KEY in html


def test_verify_on_an_intact_ledger_says_intact_and_is_remembered(dashboard, officer):
    ingest(dashboard, "a-1", start=utc(2026, 12, 10, 10))
    checkpoint(dashboard, NOW - timedelta(minutes=5))
    page = verify(officer)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Intact: ledger intact: 2 entries, 1 checkpoints" in html
    assert re.search(r"Last successful full verify</th>\s*<td>2026-12-01 09:30 UTC, vouching for the checkpoint of\s+1 entries", html)
    assert [run.outcome for run in last_runs(dashboard.engine, "verify")] == ["ok"]
    assert "Verified intact on 2026-12-01 09:30 UTC." in officer.get("/").get_data(as_text=True)


def test_a_rewritten_entry_shows_tampered_with_the_first_bad_seq_here_and_on_the_overview(dashboard, officer, auditor):
    ingest(dashboard, "a-1", start=utc(2026, 12, 10, 10), customer_number=1)
    ingest(dashboard, "a-2", start=utc(2026, 12, 11, 10), customer_number=2)
    checkpoint(dashboard, NOW - timedelta(minutes=5))
    assert "Intact" in verify(officer).get_data(as_text=True)
    tamper_body(dashboard.engine, 2)
    html = verify(auditor).get_data(as_text=True)
    assert "Tampered: the first bad entry is seq 2." in html
    overview = officer.get("/").get_data(as_text=True)
    assert "The last verification found the ledger tampered at entry 2." in overview


def test_verify_needs_the_forms_token_and_a_role_that_may(dashboard, officer, admin):
    assert officer.post("/integrity/verify").status_code == 400              # no CSRF token
    assert admin.post("/integrity/verify", data={"csrf_token": token(officer)}).status_code in (400, 403)
    assert admin.get("/integrity").status_code == 403
    assert last_runs(dashboard.engine, "verify") == []


def test_the_latest_checkpoint_downloads_as_the_signed_note(dashboard, officer):
    assert officer.get("/integrity/checkpoint").status_code == 404
    checkpoint(dashboard, NOW - timedelta(hours=1))
    ingest(dashboard, "a-1", start=utc(2026, 12, 10, 10))
    latest = checkpoint(dashboard)
    response = officer.get("/integrity/checkpoint")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.headers["Content-Disposition"] == f'attachment; filename="checkpoint-{latest.size:012d}-{latest.id}.txt"'
    note = response.get_data(as_text=True)
    assert note == latest.note
    assert check_note(note, dashboard.settings.CHECKPOINT_VERIFIER_KEY).size == latest.size == 2   # the first checkpoint and a booking
    assert "Download the latest checkpoint" in officer.get("/integrity").get_data(as_text=True)
