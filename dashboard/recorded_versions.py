"""The versions the ledger recorded of the retention policy and of the privacy notice.

`policy-changed` entries (jobs/retention.py writes one when a new policy version first runs) and
`notice-changed` entries (issue 13's `notice register` writes them) are the evidence of which
version was in force from when; these read them back, oldest first, with their sequence numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.core.canonical import parse_entry
from ledger.models import EntryIndex, LedgerEntry


@dataclass(frozen=True)
class RecordedVersion:
    """One version entry: its seq and time in the chain and the entry's details."""

    seq: int
    time: str
    details: dict[str, Any]


def recorded_versions(session: Session, kind: str) -> list[RecordedVersion]:
    """The entries of `kind` (`policy-changed` or `notice-changed`), oldest first."""
    statement = (select(LedgerEntry.seq, LedgerEntry.body).join(EntryIndex, EntryIndex.seq == LedgerEntry.seq)
                 .where(EntryIndex.kind == kind).order_by(LedgerEntry.seq))
    versions = []
    for seq, body in session.execute(statement):
        entry = parse_entry(body)
        versions.append(RecordedVersion(seq, entry["time"], entry))
    return versions
