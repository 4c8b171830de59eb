"""Requests run by the real RequestRunner against the emulator end in a certificate that verifies
offline with the verifier key alone (erasure: its Graph evidence and final moment; access: the
export, downloadable once)."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from anonymise_fixtures import Bookings, person
from config import load_settings
from config.retention import load_policy
from jobs.requests.export import destroy_expired_exports
from jobs.requests.runner import RequestRunner
from ledger.certificates import stored_certificate
from ledger.checkpoint_store import verifier_key_from_settings
from ledger.core.certificates import verify_certificate
from request_fixtures import verified_request
from state.exports import ExportGone, ExportRow, open_export


@pytest.fixture
def settings(service: Any, tmp_path: Any) -> Any:
    return load_settings({**service.settings, "CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
                          "EXPORT_DIR": str(tmp_path / "exports")})


@pytest.fixture
def bookings(control: Any, service: Any, graph: Any, ingestor: Any, emulator: Any) -> Bookings:
    business = control.seed(appointments=0, customers=0)[0]
    return Bookings(emulator.graph_url, business, graph, ingestor, service.ledger, control)


def _run(bookings: Bookings, settings: Any, request_id: str) -> Any:
    policy = load_policy(settings.RETENTION_POLICY_FILE)
    (report,) = RequestRunner(bookings.ledger, bookings.graph, policy, settings, bookings.ledger.clock).run_queued()
    assert report.state == "done" and report.certificate_id, report
    with bookings.ledger.transaction() as tx:
        certificate = stored_certificate(tx.session, report.certificate_id)
        assert tx.request(request_id).certificate_id == report.certificate_id
    return certificate


def test_an_erasure_requests_certificate_verifies_offline(bookings, service, settings, tmp_path):
    ada = person(1)
    now = bookings.ledger.clock().replace(microsecond=0)
    bookings.book(now - timedelta(days=20), [ada])
    request_id = verified_request(bookings, service, "erasure", email=ada["emailAddress"])
    certificate = _run(bookings, settings, request_id)
    verified = verify_certificate(certificate.text, verifier_key_from_settings(settings))
    facts = verified.body["facts"]
    assert facts["request_id"] == request_id and facts["subjects"][0]["erased_seq"]
    assert verified.body["erasure_final_at"] == facts["subjects"][0]["final_everywhere_at"]
    assert any(answer["status"] for s in facts["subjects"][0]["surfaces"] for answer in s["graph"])
    for value in (ada["name"], ada["emailAddress"], ada["phone"]):
        assert value not in certificate.text
    assert list((tmp_path / "checkpoints").iterdir())      # the checkpoint made for it is written out too


def test_an_access_requests_export_and_certificate(bookings, service, settings):
    ada = person(1)
    bookings.book(bookings.ledger.clock().replace(microsecond=0) + timedelta(days=3), [ada])
    request_id = verified_request(bookings, service, "access", email=ada["emailAddress"])
    certificate = _run(bookings, settings, request_id)
    verified = verify_certificate(certificate.text, verifier_key_from_settings(settings))
    export_id = verified.body["facts"]["export_id"]
    assert export_id and verified.body["remains"][0]["where"] == "export-archive"
    with zipfile.ZipFile(io.BytesIO(open_export(bookings.ledger, request_id))) as archive:
        document = json.loads(archive.read("export.json"))
    assert document["export_id"] == export_id
    assert ada["emailAddress"] in json.dumps(document)


def test_erasing_the_person_later_ends_their_earlier_export(bookings, service, settings):
    """The archive holds the erased subject's data: the erasure's own transaction ends its link, and
    `expire-exports` then destroys its key (the access request's contact subject, kept as the
    request's record, is not erased, so its keys alone would not take the archive's)."""
    ada = person(1)
    bookings.book(bookings.ledger.clock().replace(microsecond=0) + timedelta(days=3), [ada])
    access = verified_request(bookings, service, "access", email=ada["emailAddress"])
    _run(bookings, settings, access)
    assert open_export(bookings.ledger, access)
    erasure = verified_request(bookings, service, "erasure", email=ada["emailAddress"])
    _run(bookings, settings, erasure)
    with pytest.raises(ExportGone):
        open_export(bookings.ledger, access)
    assert destroy_expired_exports(bookings.ledger, bookings.ledger.clock) == 1
    with bookings.ledger.transaction() as tx:
        row = tx.session.scalars(select(ExportRow).where(ExportRow.request_id == access)).one()
        assert row.destroyed_at and row.key_category not in bookings.ledger.keystore.existing_keys(row.key_subject)
