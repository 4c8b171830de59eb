"""Access and portability: one archive of everything the ledger and Graph hold for a request's subjects.

    record = build_export(ledger, connector, request, subjects, clock, settings=settings)
    state.exports.open_export(ledger, request.request_id, by=...)      # the officer's or the subject's download
    destroy_expired_exports(ledger, clock)                             # the scheduler job `exports`

Four steps, so nothing personal is ever on disk in the clear and no ledger lock is held over HTTP:
  1. Graph, live: each business's customer records and appointments of the subjects (graph_holdings)
  2. the ledger, one transaction: each subject's values, decrypted, with a `viewed` entry per
     subject (viewer `service:export`), its entries (what was done, when) and the person's requests
  3. the zip (export_archive), sealed with AES-256-GCM under a new key in the key store (the
     requester's subject, category `~export.<id>`), written 0600 to EXPORT_DIR
  4. its row in `exports` and the `exported` entry (action `created`), in one transaction

Under CCPA a request verified below `high` gets the categories only (11 CCR 7024(a)): no value
is decrypted and no `viewed` entry written; the categories come from the ledger's rows and from
which fields Graph's records fill. The archive's key is destroyed when its link expires
(REQUEST_LINK_HOURS) or with the requester's other keys when the requester is erased.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import GraphConnector
from database.files import PRIVATE_FILE, make_private_directory
from database.times import format_time
from jobs.requests import export_archive
from jobs.requests.graph_holdings import BusinessHoldings, read_holdings
from ledger.core.canonical import parse_entry
from ledger.entries import lock_head
from ledger.models import EntryIndex, LedgerEntry, PersonalData, RequestProjection, SubjectProjection
from ledger.requests import LEVELS
from ledger.transactions import Clock, Ledger, LedgerTransaction
from state import exports
from state.exports import ExportRow

EXPORT_VIEWER = "service:export"
FORMAT = "bookings-ledger-export/1"


@dataclass(frozen=True)
class ExportRecord:
    """One archive made for a request: where it is, what it covers, and the entries recording it."""

    export_id: str
    request_id: str
    scope: str                          # "full" | "categories"
    path: Path
    size: int
    sha256: str                         # of the ciphertext on disk
    expires_at: str
    exported_seq: int                   # the `exported` entry (action `created`)
    viewed_seqs: tuple[int, ...]        # one `viewed` entry per subject whose values were decrypted
    counts: dict[str, int]


def categories_only(request: RequestProjection) -> bool:
    """CCPA below `high` verification discloses categories, not specific pieces (§7024(a))."""
    return request.regime == "ccpa" and LEVELS.index(request.verification or "none") < LEVELS.index("high")


def build_export(ledger: Ledger, connector: GraphConnector, request: RequestProjection, subjects: list[str],
                 clock: Clock, *, settings: Any) -> ExportRecord:
    """Build, seal and record the request's archive (EXPORT_DIR, REQUEST_LINK_HOURS from `settings`)."""
    export_id = f"exp_{secrets.token_hex(8)}"
    scope = "categories" if categories_only(request) else "full"
    people = sorted({*subjects, request.requester_ref} - {None})
    with Session(ledger.engine) as session:
        holdings = read_holdings(session, connector, people)
    with ledger.transaction() as tx:
        live = _not_erased(tx, people)
        ledger_part, viewed = (_ledger_categories(tx, live), ()) if scope == "categories" else _ledger_full(tx, request, live)
        ledger_part["requests"] = _requests_of(tx.session, people)
    created = clock()
    document = {"format": FORMAT, "export_id": export_id, "request_id": request.request_id,
                "request_type": request.request_type, "created_at": format_time(created), "scope": scope,
                "ledger": ledger_part, "graph": {"businesses": [_graph_part(b, scope) for b in holdings]}}
    sealed = _sealed(ledger, request, export_id, export_archive.zip_export(document))
    path = _write(Path(settings.EXPORT_DIR), export_id, sealed)
    expires_at = format_time(created + timedelta(hours=settings.REQUEST_LINK_HOURS))
    counts = _counts(ledger_part, holdings)
    digest = hashlib.sha256(sealed).hexdigest()
    with ledger.transaction() as tx:
        tx.session.add(ExportRow(export_id=export_id, request_id=request.request_id, key_subject=request.requester_ref,
                                 key_category=exports.key_category(export_id), path=str(path.resolve()), scope=scope,
                                 subjects=json.dumps(people), size=len(sealed), sha256=digest,
                                 created_at=format_time(created), expires_at=expires_at))
        seq = tx.append("exported", subject=request.requester_ref, refs={"request": request.request_id, "export": export_id},
                        action="created", scope=scope, subjects=people, counts=counts, sha256=digest).seq
    return ExportRecord(export_id, request.request_id, scope, path, len(sealed), digest, expires_at, seq, tuple(viewed), counts)


def destroy_expired_exports(ledger: Ledger, clock: Clock) -> int:
    """Destroy the key of every archive whose link lifetime has passed, then remove its file; how many."""
    now = format_time(clock())
    with Session(ledger.engine) as session:
        due = [(row.export_id, row.key_subject, row.key_category, row.path) for row in exports.due_for_destruction(session, now)]
    for export_id, key_subject, category, path in due:
        # The key first: once it is gone the file is noise, wherever a copy of it went.
        ledger.keystore.destroy_category(key_subject, category)
        Path(path).unlink(missing_ok=True)
        with ledger.transaction() as tx:
            row = tx.session.get(ExportRow, export_id)
            if row is not None and row.destroyed_at is None:
                row.destroyed_at = format_time(clock())
    return len(due)


def _not_erased(tx: LedgerTransaction, people: list[str]) -> list[str]:
    erased = set(tx.session.scalars(select(SubjectProjection.subject_ref).where(
        SubjectProjection.subject_ref.in_(people), SubjectProjection.status == "erased")))
    return [person for person in people if person not in erased]


def _ledger_full(tx: LedgerTransaction, request: RequestProjection, people: list[str]) -> tuple[dict[str, Any], list[int]]:
    """Each subject's values (decrypted, `viewed` recorded) and entries."""
    subjects, viewed = [], []
    for subject in people:
        stored = _stored_rows(tx.session, subject)
        entries = _entries_of(tx.session, subject)
        values: dict[str, str] = {}
        if stored:
            values = tx.read_personal_data(subject, viewer=EXPORT_VIEWER, purpose=f"{request.request_type}-request",
                                           refs={"request": request.request_id})
            viewed.append(lock_head(tx.session).seq)     # the `viewed` entry just appended
        personal = [{"field": row.field, "category": row.category, "purpose": row.purpose, "stored_at": row.created_at,
                     "value": values[row.field]} for row in stored if row.field in values]
        if personal or entries:
            subjects.append({"subject": subject, "personal_data": personal, "entries": entries})
    return {"subjects": subjects}, viewed


def _ledger_categories(tx: LedgerTransaction, people: list[str]) -> dict[str, Any]:
    """The categories and purposes of the subjects' values, with the kinds of field and how many: no value."""
    grouped: dict[tuple[str, str], tuple[set[str], int]] = {}
    for subject in people:
        for row in _stored_rows(tx.session, subject):
            fields, count = grouped.get((row.category, row.purpose), (set(), 0))
            grouped[row.category, row.purpose] = (fields | {_field_kind(row.field)}, count + 1)
    categories = [{"category": category, "purpose": purpose, "fields": sorted(fields), "values": count}
                  for (category, purpose), (fields, count) in sorted(grouped.items())]
    return {"categories": categories}


def _graph_part(holdings: BusinessHoldings, scope: str) -> dict[str, Any]:
    if scope == "full":
        return {"business_id": holdings.business_id, "customers": holdings.customers,
                "appointments": holdings.appointments, "gone": holdings.gone}
    categories = [{"category": name, "fields": sorted({key for record in records for key, value in record.items()
                                                        if value not in (None, "", [], {}) and key != "id"}),
                   "records": len(records)}
                  for name, records in (("customer-record", holdings.customers), ("appointment", holdings.appointments))
                  if records]
    return {"business_id": holdings.business_id, "categories": categories}


def _stored_rows(session: Session, subject: str) -> list[PersonalData]:
    return list(session.scalars(select(PersonalData).where(PersonalData.subject_ref == subject).order_by(PersonalData.field)))


def _entries_of(session: Session, subject: str) -> list[dict[str, Any]]:
    seqs = select(EntryIndex.seq).where(EntryIndex.subject_ref == subject)
    bodies = session.scalars(select(LedgerEntry.body).where(LedgerEntry.seq.in_(seqs)).order_by(LedgerEntry.seq))
    return [parse_entry(body) for body in bodies]


def _requests_of(session: Session, people: list[str]) -> list[dict[str, Any]]:
    rows = session.scalars(select(RequestProjection).where(RequestProjection.requester_ref.in_(people))
                           .order_by(RequestProjection.received_at, RequestProjection.request_id))
    return [{"request_id": row.request_id, "request_type": row.request_type, "state": row.state, "channel": row.channel,
             "received_at": row.received_at, "completed_at": row.completed_at, "outcome": row.outcome} for row in rows]


def _field_kind(field: str) -> str:
    """A stored field's name without the appointment id ingestion prefixes it with (`appointment.<id>.name` -> `name`)."""
    return field.rsplit(".", 1)[-1]


def _sealed(ledger: Ledger, request: RequestProjection, export_id: str, archive: bytes) -> bytes:
    key = ledger.keystore.keys_for(request.requester_ref, [exports.key_category(export_id)])[exports.key_category(export_id)]
    return exports.seal(key, archive, export_id, request.request_id)


def _write(directory: Path, export_id: str, sealed: bytes) -> Path:
    make_private_directory(directory)
    path = directory / f"{export_id}.zip.sealed"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(descriptor, "wb") as file:
        file.write(sealed)
    return path


def _counts(ledger_part: dict[str, Any], holdings: list[BusinessHoldings]) -> dict[str, int]:
    values = sum(len(s["personal_data"]) for s in ledger_part.get("subjects", ()))
    values += sum(c["values"] for c in ledger_part.get("categories", ()))
    return {"values": values, "businesses": len(holdings), "customers": sum(len(h.customers) for h in holdings),
            "appointments": sum(len(h.appointments) for h in holdings), "gone": sum(len(h.gone) for h in holdings)}

