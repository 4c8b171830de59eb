"""After an erasure, nothing derived from the subject's data is left anywhere in the main database.

Several people book through the real path (emulator → web app → inbox → worker → ledger, then a
reconciliation sweep that reads their customer records); one is erased. Then every row of every
table is read, every column, ledger bodies decoded, and searched as an attacker would search a
copy of the database: for the plaintext, the normalised identifiers, the blind-index digests, the
appointment's times (the ledger's text format, ISO forms, Graph's form, epoch seconds and
milliseconds), the retention dates counted from them, and the content digests under every key
that is still alive. Only ids and states may remain. The same needles are found before the
erasure: the scan is looking in the right places. And the chain of the people not erased holds
none of their appointment times either.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session

from config import load_settings
from config.retention import load_policy, period_ends
from connector.parse import parse_appointment, parse_customer
from database.times import format_time
from ingestion_pipeline import Pipeline
from jobs import classify
from jobs.worker import Worker
from ledger import blind_index
from ledger.core.canonical import parse_entry
from ledger.entries import stream_rows
from ledger.models import RecordProjection, SubjectProjection
from state.bookings_mirror import ERASED, BookingAppointment, BookingCustomer
from state.retention_dues import RetentionDue

PEOPLE = [
    {"name": "Grace Brewster Hopper", "emailAddress": "Grace.Hopper@Navy-Example.org", "phone": "+1 415 555 0142",
     "notes": "Bring the nanosecond wire.", "timeZone": "America/New_York",
     "customQuestionAnswers": [{"questionId": "q1", "question": "Age?", "answer": "seventy-nine"}]},
    {"name": "Alan Mathison Turing", "emailAddress": "alan.turing@bletchley-example.org", "phone": "+44 161 496 0731",
     "notes": "Prefers the afternoon.", "timeZone": "Europe/Dublin",
     "customQuestionAnswers": [{"questionId": "q1", "question": "Age?", "answer": "forty-one"}]},
    {"name": "Katherine Coleman Johnson", "emailAddress": "k.johnson@langley-example.org", "phone": "+1 757 555 0199",
     "notes": "Orbital mechanics follow-up.", "timeZone": "America/Chicago",
     "customQuestionAnswers": [{"questionId": "q1", "question": "Age?", "answer": "ninety-seven"}]},
]
APPOINTMENT_FIELDS = [{"serviceNotes": f"Service note {word}.", "customerNotes": f"Customer note {word}."}
                      for word in ("zephyr", "quartz", "juniper")]
OFFSETS = [timedelta(days=3, hours=10, minutes=17), timedelta(days=5, hours=13, minutes=43),
           timedelta(days=7, hours=8, minutes=29)]
ERASED_INDEX = 0
FORMAT_1_DIGEST_CONTEXT = b"bookings-ledger/ingestion/content-digest/v1"


@pytest.fixture
def booked(make_services, control, service, graph, ingestor, emulator) -> dict[str, Any]:
    """Three people each book one appointment; every notification is processed, then one sweep runs."""
    business = control.seed(appointments=3, customers=4)[0]
    services = make_services([business])
    services.subscriptions.ensure_all()
    pipeline = Pipeline(Worker(service.ledger, ingestor, graph, clock=service.ledger.clock), control, business,
                        emulator.graph_url)
    midnight = service.ledger.clock().replace(hour=0, minute=0, second=0, microsecond=0)
    ids = [pipeline.book(midnight + offset, person=person, fields=fields)
           for offset, person, fields in zip(OFFSETS, PEOPLE, APPOINTMENT_FIELDS)]
    pipeline.settle()
    services.reconciler.reconcile_business(business)
    return {"pipeline": pipeline, "business": business, "ids": ids, "services": services}


def test_after_erasure_only_ids_and_states_remain_anywhere(booked, service, control):
    """Every table, every column, bodies decoded: nothing derived from the erased subject's data."""
    pipeline, appointment_id = booked["pipeline"], booked["ids"][ERASED_INDEX]
    subject = _subject_of(pipeline, appointment_id)
    needles = _needles(service, control, booked["business"], appointment_id, PEOPLE[ERASED_INDEX],
                       APPOINTMENT_FIELDS[ERASED_INDEX], subject)
    before = _haystack(service.ledger.engine)
    present = {name for name, found in _found(needles, before).items() if found}
    # The scan sees what the erasure must remove: times and digests in the mirror, blind indexes.
    assert {"start (ledger format)", "end (ledger format)", "digest under the subject's key",
            "blind index (email)", "retention date"} <= present, present

    service.ledger.erase_subject(subject, reason="erasure-request")

    after = _haystack(service.ledger.engine)
    assert {name for name, found in _found(needles, after).items() if found} == set()
    _assert_ids_and_states_only(service.ledger.engine, subject, appointment_id)


def test_the_chain_of_a_live_subject_holds_no_appointment_time(booked, service):
    """Nobody erased: the chain still holds none of the appointments' times, nor dates counted from them."""
    pipeline = booked["pipeline"]
    chain = b"\n".join(body for _, body, _ in _rows(service.ledger.engine))
    policy = load_policy(load_settings(service.settings).RETENTION_POLICY_FILE)
    for appointment_id in booked["ids"]:
        appointment = _graph_appointment(pipeline.control, booked["business"], appointment_id)
        for moment in (appointment.start, appointment.end):
            for name, pattern in _time_patterns(moment).items():
                assert not pattern.search(chain), f"{appointment_id}: {name} in the chain"
        (person,) = classify.people(appointment, service.ledger.keys.phone_region)
        for due in _due_dates(policy, person.paths, appointment.end, service.ledger.clock()).values():
            assert due.encode() not in chain, f"{appointment_id}: a retention date in the chain"
    assert b'"retention_until"' not in chain and b'"content_digest"' not in chain
    assert all(json.loads(body)["v"] == 2 for _, body, _ in _rows(service.ledger.engine))


def _due_dates(policy: Any, paths: dict[str, str], end: Any, now: Any) -> dict[str, str]:
    """Category id -> the due date ingestion stores (these businesses' mailboxes are on UTC)."""
    return {category: format_time(period_ends(clock.period, clock.start))
            for category, clock in classify.due_clocks(policy, paths, end, now).items() if clock.start}


def _subject_of(pipeline: Pipeline, appointment_id: str) -> str:
    (entry,) = [e for e in pipeline.entries("collected") if e.get("refs", {}).get("appointment") == appointment_id]
    return entry["subject"]


def _graph_appointment(control: Any, business_id: str, appointment_id: str) -> Any:
    business = next(b for b in control.state()["businesses"] if b["business"]["id"] == business_id)
    return parse_appointment(next(a for a in business["appointments"] if a["id"] == appointment_id), business_id)


def _needles(service: Any, control: Any, business_id: str, appointment_id: str, person: dict[str, Any],
             fields: dict[str, str], subject: str) -> dict[str, re.Pattern[bytes]]:
    """Name -> pattern of everything derived from the subject's data that must not survive."""
    settings = load_settings(service.settings)
    region = service.ledger.keys.phone_region
    appointment = _graph_appointment(control, business_id, appointment_id)
    business = next(b for b in control.state()["businesses"] if b["business"]["id"] == business_id)
    (info,) = appointment.customers
    record = parse_customer(next(c for c in business["customers"] if c["id"] == info.customer_id), business_id)
    plain = [person["name"], person["emailAddress"], person["phone"], person["notes"], person["timeZone"],
             person["customQuestionAnswers"][0]["answer"], *fields.values()]
    needles = {f"plaintext {value}": _literal(value, ignore_case=True) for value in plain}
    needles["normalised email"] = _literal(blind_index.normalise_email(person["emailAddress"]), ignore_case=True)
    e164 = blind_index.normalise_phone(person["phone"], region)
    needles["normalised phone"] = _literal(e164)
    needles["phone digits"] = _bounded(re.escape(e164.lstrip("+").encode()), rb"0-9")
    for kind, digest in blind_index.identifier_digests(service.ledger.keys.blind_index_key, region,
                                                        email=person["emailAddress"], phone=person["phone"]):
        needles[f"blind index ({kind})"] = re.compile(re.escape(digest) + b"|" + re.escape(digest.hex().encode()))
    for label, moment in (("start", appointment.start), ("end", appointment.end)):
        needles.update({f"{label} ({name})": pattern for name, pattern in _time_patterns(moment).items()})
    policy = load_policy(settings.RETENTION_POLICY_FILE)
    (graph_person,) = classify.people(appointment, region)
    for category, due in _due_dates(policy, graph_person.paths, appointment.end, service.ledger.clock()).items():
        needles[f"retention date {category}"] = _literal(due)
    needles["retention date"] = re.compile(b"|".join(p.pattern for n, p in needles.items() if n.startswith("retention date ")))
    with service.ledger.transaction() as tx:
        subject_key = classify.digest_key(tx.subject_secret(subject))
    digests = _digests(subject_key, appointment, graph_person, classify.customer_record(record, region))
    needles["digest under the subject's key"] = re.compile(b"|".join(re.escape(d.encode()) for d in digests))
    # Every key still alive, used as it is, as the digest key derivation uses it, and as format 1 did.
    found = [d for key in _live_keys(service.settings, settings)
             for derived in (key, classify.digest_key(key), hmac.new(key, FORMAT_1_DIGEST_CONTEXT, hashlib.sha256).digest())
             for d in _digests(derived, appointment, graph_person, classify.customer_record(record, region))]
    needles["digest under a live key"] = re.compile(b"|".join(re.escape(d.encode()) for d in found))
    return needles


def _digests(key: bytes, appointment: Any, person: Any, record: Any) -> list[str]:
    shown, notes = classify.content_digests(key, appointment, person)
    return [d for d in (shown, notes, classify.record_digest(key, record)) if d]


def _live_keys(raw: dict[str, str], settings: Any) -> list[bytes]:
    """Every secret the settings still hold after the erasure: as configured, and decoded."""
    keys = [settings.key("LEDGER_MASTER_KEY"), settings.key("BLIND_INDEX_KEY")]
    for value in raw.values():
        keys.append(value.encode())
        try:
            keys.append(base64.b64decode(value, validate=True))
        except ValueError:
            pass
    return keys


def _time_patterns(moment: datetime) -> dict[str, re.Pattern[bytes]]:
    """The moment in every form the code or a database might write it."""
    utc = moment.astimezone(timezone.utc)
    epoch = int(utc.timestamp())
    return {
        "ledger format": _literal(format_time(utc)),
        "ISO": _literal(utc.strftime("%Y-%m-%dT%H:%M")),
        "ISO with a space": _literal(utc.strftime("%Y-%m-%d %H:%M")),
        "Graph": _literal(utc.strftime("%Y-%m-%dT%H:%M:%S.0000000")),
        "epoch seconds": _bounded(str(epoch).encode(), rb"0-9a-fA-F"),
        "epoch milliseconds": _bounded(str(epoch * 1000).encode(), rb"0-9a-fA-F"),
    }


def _literal(value: str, *, ignore_case: bool = False) -> re.Pattern[bytes]:
    return re.compile(re.escape(value.encode()), re.IGNORECASE if ignore_case else 0)


def _bounded(pattern: bytes, neighbours: bytes) -> re.Pattern[bytes]:
    # A decimal number could occur by chance inside a hex digest: only a whole token counts.
    return re.compile(rb"(?<![" + neighbours + rb"])" + pattern + rb"(?![" + neighbours + rb"])")


def _rows(engine: Engine) -> list[tuple[int, bytes, bytes]]:
    with engine.connect() as connection:
        return list(stream_rows(connection))


def _haystack(engine: Engine) -> bytes:
    """Every value of every row of every table, as bytes; binary values raw and as hex; chain
    bodies also decoded and re-serialised member by member."""
    parts: list[bytes] = []
    with engine.connect() as connection:
        for table in sorted(inspect(connection).get_table_names()):
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    parts += _as_bytes(value)
        for _, body, _ in stream_rows(connection):
            parts.append(json.dumps(parse_entry(body), ensure_ascii=False).encode())
    return b"\n".join(parts)


def _as_bytes(value: object) -> list[bytes]:
    if value is None:
        return []
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        return [raw, raw.hex().encode()]
    return [str(value).encode()]


def _found(needles: dict[str, re.Pattern[bytes]], haystack: bytes) -> dict[str, bool]:
    return {name: bool(pattern.search(haystack)) for name, pattern in needles.items()}


def _assert_ids_and_states_only(engine: Engine, subject: str, appointment_id: str) -> None:
    with Session(engine) as session:
        row = session.get(BookingAppointment, appointment_id)
        assert (row.state, row.start_at, row.end_at, row.subjects, row.digests, row.graph_version) == (
            ERASED, None, None, "{}", "{}", None)
        customers = session.scalars(select(BookingCustomer).where(BookingCustomer.state == ERASED)).all()
        assert len(customers) == 1 and customers[0].subject_ref is None and customers[0].digest is None
        assert session.scalars(select(RetentionDue).where(RetentionDue.subject_ref == subject)).all() == []
        assert session.get(SubjectProjection, subject).status == "erased"
        records = session.scalars(select(RecordProjection).where(RecordProjection.subject_ref == subject)).all()
        assert records and {r.state for r in records} == {"erased"}
