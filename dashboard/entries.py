"""The chain read for people: a subject's entries, a record's, the audit log's, each with a one-line summary.

Entry bodies hold no personal data (ids, codes, category and field names), so every page may show
them; the summary leaves out what only a verifier needs (digests, key ids, the policy's classes).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.core.canonical import parse_entry
from ledger.models import EntryIndex, LedgerEntry

AUDITED_KINDS = ("viewed", "exported")
# What a person reads of an entry, in this order; everything else is for the verifier.
SUMMARY_KEYS = ("purpose", "actor", "categories", "refs", "reason", "scope", "hold", "business", "policy_version",
                "request_type", "stricter")
BATCH = 500   # bodies read per query while filtering the audit log


@dataclass(frozen=True)
class EntryRow:
    """One entry as a row of a table."""

    seq: int
    time: str
    kind: str
    subject: str | None
    summary: str
    body: dict[str, Any]


def subject_entries(session: Session, subject: str) -> list[EntryRow]:
    """The subject's entries, oldest first."""
    query = _bodies().where(EntryIndex.subject_ref == subject).order_by(EntryIndex.seq)
    return [_row(body) for body in session.scalars(query)]


def record_entries(session: Session, object_type: str, object_id: str, subjects: Iterable[str]) -> list[EntryRow]:
    """The entries naming the Graph object in their refs, among those of the subjects it belonged to."""
    query = _bodies().where(EntryIndex.subject_ref.in_(sorted(set(subjects)))).order_by(EntryIndex.seq)
    rows = (_row(body) for body in session.scalars(query))
    return [row for row in rows if row.body.get("refs", {}).get(object_type) == object_id]


def audit_entries(session: Session, *, actor: str | None, offset: int, limit: int) -> tuple[list[EntryRow], bool]:
    """The `viewed` and `exported` entries, newest first, of one actor or all: a page of them, and
    whether there are more. The actor is in the body only, so bodies are filtered as they are read."""
    matching = (row for row in _newest_audited(session) if actor is None or row.body.get("actor") == actor)
    page = []
    for index, row in enumerate(matching):
        if index >= offset + limit:
            return page, True
        if index >= offset:
            page.append(row)
    return page, False


def _newest_audited(session: Session) -> Iterator[EntryRow]:
    before = None
    while True:
        query = _bodies().where(EntryIndex.kind.in_(AUDITED_KINDS)).order_by(EntryIndex.seq.desc()).limit(BATCH)
        if before is not None:
            query = query.where(EntryIndex.seq < before)
        rows = [_row(body) for body in session.scalars(query)]
        yield from rows
        if len(rows) < BATCH:
            return
        before = rows[-1].seq


def summary(entry: dict[str, Any]) -> str:
    """The entry's details a person reads, on one line: `categories: booking.contact · refs: appointment=A1`."""
    parts = [f"{key.replace('_', ' ')}: {_text(entry[key])}" for key in SUMMARY_KEYS if entry.get(key) not in (None, [], {})]
    return " · ".join(parts)


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key}={item}" for key, item in sorted(value.items()))
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _bodies() -> Any:
    return select(LedgerEntry.body).join(EntryIndex, EntryIndex.seq == LedgerEntry.seq)


def _row(body: bytes) -> EntryRow:
    entry = parse_entry(body)
    return EntryRow(entry["seq"], entry["time"], entry["kind"], entry.get("subject"), summary(entry), entry)
