"""Access exports against the emulator: one sealed archive of what the ledger and Graph hold for the
subject across every business, only the subject's own part of a shared appointment, nothing in the
clear on disk, categories only under CCPA below `high`, and no download once the link expired or
the requester was erased."""
from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from datetime import timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ingestion_pipeline import Pipeline
from jobs.requests.export import build_export, destroy_expired_exports
from ledger import requests
from ledger.core.canonical import parse_entry
from ledger.deadlines import Calendar, Calendars
from ledger.entries import stream_rows
from ledger.models import PersonalData
from ledger.requests import Intake, RequestRules
from state.exports import ExportGone, ExportRow, open_export

RULES = RequestRules(Calendars(ZoneInfo("Europe/Dublin"), Calendar("IE"), Calendar("US", "CA")), "gdpr", timedelta(days=30))
ADA, GUEST, OTHER = "ada@example.com", "guest1@example.com", "grace@example.com"


@pytest.fixture
def booked(make_services, control, service, graph, ingestor, emulator):
    """Ada books alone in one business and with a guest in another; Grace books in the first; both swept."""
    businesses = control.seed(businesses=2, appointments=0, customers=0)
    services = make_services(businesses)
    start = service.ledger.clock().replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=2)
    first, second = (Pipeline(None, control, business, emulator.graph_url) for business in businesses)
    first.book(start, email=ADA)
    second.book(start + timedelta(hours=2), email=ADA, customers=2)
    first.book(start + timedelta(hours=4), email=OTHER, person={"name": "Grace Hopper", "notes": "Nanoseconds."})
    for business in businesses:
        services.reconciler.reconcile_business(business)
    return businesses


def _started(ledger, regime="gdpr", data_points=("email",), declaration=False):
    with ledger.transaction() as tx:
        subjects = tx.find_subjects(email=ADA)
        request = requests.receive(tx, Intake("access", "portal", email=ADA, regime=regime), RULES)
        requests.verify(tx, request.request_id, method="officer", data_points=list(data_points), by="officer",
                        declaration=declaration)
        return requests.start(tx, request.request_id, subjects=subjects, by="job"), subjects


def _settings(tmp_path):
    return SimpleNamespace(EXPORT_DIR=tmp_path / "exports", REQUEST_LINK_HOURS=72)


def _files(archive: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return {name: opened.read(name).decode("utf-8") for name in opened.namelist()}


def test_an_access_export_holds_the_subjects_ledger_and_graph_data_across_businesses(booked, service, graph, tmp_path):
    """export.json and the CSVs: the values decrypted, the entries, both businesses' appointments read
    live; the shared appointment keeps only Ada's customer entry; Grace and the guest are absent."""
    ledger = service.ledger
    request, subjects = _started(ledger)
    record = build_export(ledger, graph, request, subjects, ledger.clock, settings=_settings(tmp_path))
    files = _files(open_export(ledger, request.request_id, by="officer:1"))
    assert set(files) == {"export.json", "README.txt", "ledger_personal_data.csv", "ledger_entries.csv", "requests.csv",
                          "graph_customers.csv", "graph_appointments.csv"}
    document = json.loads(files["export.json"])
    assert document["scope"] == "full" and record.scope == "full"
    businesses = {b["business_id"]: b for b in document["graph"]["businesses"]}
    assert set(businesses) == set(booked)
    appointments = [a for b in businesses.values() for a in b["appointments"]]
    assert len(appointments) == 2
    shared = next(a for a in appointments if a["filledAttendeesCount"] == 2)
    assert [c["emailAddress"] for c in shared["customers"]] == [ADA] and "serviceNotes" not in shared
    alone = next(a for a in appointments if a is not shared)
    assert alone["serviceNotes"] == "First visit." and alone["customers"][0]["notes"] == "Allergic to latex."
    values = [v["value"] for s in document["ledger"]["subjects"] for v in s["personal_data"]]
    assert ADA in values and "Ada Lovelace 0" in values
    assert [r["request_id"] for r in document["ledger"]["requests"]] == [request.request_id]
    everything = "".join(files.values())
    assert GUEST not in everything and OTHER not in everything and "Nanoseconds." not in everything
    assert ADA in files["ledger_personal_data.csv"] and ADA in files["graph_appointments.csv"]
    kinds = [(e["kind"], e.get("action")) for e in _entries(ledger) if e.get("refs", {}).get("request") == request.request_id]
    assert ("exported", "created") in kinds and ("exported", "downloaded") in kinds
    assert kinds.count(("viewed", None)) == len(record.viewed_seqs) >= 1


def test_the_archive_at_rest_is_ciphertext_in_a_private_file(booked, service, graph, tmp_path):
    """No value of the subject in EXPORT_DIR; the file is 0600 and its directory 0700."""
    ledger = service.ledger
    request, subjects = _started(ledger)
    record = build_export(ledger, graph, request, subjects, ledger.clock, settings=_settings(tmp_path))
    raw = record.path.read_bytes()
    for needle in (ADA, "Allergic to latex.", "Ada Lovelace", "First visit.", "export.json"):
        assert needle.encode() not in raw
    assert stat.S_IMODE(os.stat(record.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(record.path.parent).st_mode) == 0o700
    with ledger.transaction() as tx:
        row = tx.session.scalars(select(ExportRow)).one()
        assert ADA not in json.dumps({c: str(getattr(row, c)) for c in ExportRow.__table__.columns.keys()})


def test_ccpa_below_high_gets_the_categories_only(booked, service, graph, tmp_path):
    """Verified to `reasonable`: categories and counts, no value decrypted, no `viewed` entry (§7024(a))."""
    ledger = service.ledger
    request, subjects = _started(ledger, regime="ccpa", data_points=("email", "phone"))
    viewed_before = sum(1 for e in _entries(ledger) if e["kind"] == "viewed")
    record = build_export(ledger, graph, request, subjects, ledger.clock, settings=_settings(tmp_path))
    files = _files(open_export(ledger, request.request_id))
    assert set(files) == {"export.json", "categories.csv", "README.txt"} and record.scope == "categories"
    everything = "".join(files.values())
    assert ADA not in everything and "Allergic" not in everything and "Ada Lovelace" not in everything
    document = json.loads(files["export.json"])
    categories = {c["category"] for c in document["ledger"]["categories"]}
    with ledger.transaction() as tx:
        stored = set(tx.session.scalars(select(PersonalData.category).where(PersonalData.subject_ref.in_([*subjects, request.requester_ref]))))
    assert categories == stored
    graph_fields = {f for b in document["graph"]["businesses"] for c in b["categories"] for f in c["fields"]}
    assert "customers" in graph_fields
    assert sum(1 for e in _entries(ledger) if e["kind"] == "viewed") == viewed_before


def test_ccpa_verified_high_gets_the_values(booked, service, graph, tmp_path):
    ledger = service.ledger
    request, subjects = _started(ledger, regime="ccpa", data_points=("email", "phone", "name"), declaration=True)
    build_export(ledger, graph, request, subjects, ledger.clock, settings=_settings(tmp_path))
    assert ADA in _files(open_export(ledger, request.request_id))["ledger_personal_data.csv"]


def test_no_download_after_the_link_expired_and_the_key_is_then_destroyed(booked, service, graph, control, tmp_path):
    ledger = service.ledger
    request, subjects = _started(ledger)
    record = build_export(ledger, graph, request, subjects, ledger.clock, settings=_settings(tmp_path))
    assert destroy_expired_exports(ledger, ledger.clock) == 0
    control.advance(hours=73)
    with pytest.raises(ExportGone):
        open_export(ledger, request.request_id)
    assert destroy_expired_exports(ledger, ledger.clock) == 1
    assert not record.path.exists()
    assert f"~export.{record.export_id}" not in ledger.keystore.existing_keys(request.requester_ref)


def test_erasing_the_requester_destroys_the_archives_key(booked, service, graph, tmp_path):
    ledger = service.ledger
    request, subjects = _started(ledger)
    build_export(ledger, graph, request, subjects, ledger.clock, settings=_settings(tmp_path))
    ledger.erase_subject(request.requester_ref, reason="erasure-request")
    with pytest.raises(ExportGone):
        open_export(ledger, request.request_id)


def _entries(ledger):
    with ledger.engine.connect() as connection:
        return [parse_entry(body) for _seq, body, _hash in stream_rows(connection)]


def test_an_export_under_throttling_logs_no_personal_data(booked, service, graph, control, tmp_path, caplog):
    """Every log record of building and opening an export, at DEBUG, with Graph throttling and failing
    now and then: ids only, none of the values the archive holds."""
    ledger = service.ledger
    request, subjects = _started(ledger)
    control.call("POST", "/faults", {"requests": [{"status": 429, "share": 0.3, "retry_after": 0},
                                                  {"status": 503, "share": 0.1, "retry_after": 0}]})
    with caplog.at_level("DEBUG"):
        build_export(ledger, graph, request, subjects, ledger.clock, settings=_settings(tmp_path))
        archive = open_export(ledger, request.request_id)
    control.call("DELETE", "/faults")
    assert ADA in _files(archive)["graph_appointments.csv"]
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert caplog.records, "the connector logs its retries: the capture is looking in the right place"
    for value in (ADA, "Ada Lovelace", "Allergic to latex.", "+44 20 7946 0018", "+442079460018", "First visit."):
        assert value not in logged
