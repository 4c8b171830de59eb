"""Projections: the current state of each subject, Graph record and request, derived from entries.

`apply_entry` runs in the same transaction as the append that produced the entry, so a
projection is never ahead of or behind the chain; `rebuild_projections` replays the chain.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from ledger.core.canonical import parse_entry
from ledger.entries import stream_rows
from ledger.models import RecordProjection, RequestProjection, SubjectProjection
from ledger.request_projection import apply_request_entry

RECORD_TYPES = ("appointment", "customer")
RECORD_STATES = {
    "collected": "active", "updated": "active", "cancelled": "cancelled",
    "retention-expired": "expired", "anonymised": "anonymised", "erased": "erased",
}
SUBJECT_GONE = ("erased", "key-destroyed")


def apply_entry(session: Session, entry: dict[str, Any]) -> None:
    """Bring the projections up to date with one freshly appended entry."""
    if entry.get("subject"):
        _apply_to_subject(session, entry)
    if entry["kind"] in RECORD_STATES:
        _apply_to_records(session, entry)
    if "request" in entry.get("refs", {}):
        apply_request_entry(session, entry)
    session.flush()


def _apply_to_subject(session: Session, entry: dict[str, Any]) -> None:
    subject = session.get(SubjectProjection, entry["subject"])
    if subject is None:
        subject = SubjectProjection(subject_ref=entry["subject"], status="active")
        session.add(subject)
    if entry["kind"] in SUBJECT_GONE:
        subject.status = "erased"
    subject.last_seq, subject.updated_at = entry["seq"], entry["time"]
    if entry["kind"] == "erased":
        session.execute(
            update(RecordProjection)
            .where(RecordProjection.subject_ref == entry["subject"])
            .values(state="erased", last_seq=entry["seq"], updated_at=entry["time"])
        )


def _apply_to_records(session: Session, entry: dict[str, Any]) -> None:
    for object_type, object_id in entry.get("refs", {}).items():
        if object_type not in RECORD_TYPES:
            continue
        record = session.get(RecordProjection, (object_type, object_id))
        if record is None:
            record = RecordProjection(object_type=object_type, object_id=object_id)
            session.add(record)
        record.subject_ref = entry.get("subject", record.subject_ref)
        record.state = RECORD_STATES[entry["kind"]]
        record.last_seq, record.updated_at = entry["seq"], entry["time"]


def rebuild_projections(session: Session) -> int:
    """Recompute every projection from the chain; returns the number of entries replayed."""
    for model in (SubjectProjection, RecordProjection, RequestProjection):
        session.execute(delete(model))
    count = 0
    for _seq, body, _hash in stream_rows(session.connection()):
        apply_entry(session, parse_entry(body))
        count += 1
    return count
