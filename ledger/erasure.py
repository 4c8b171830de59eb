"""Erasure in three crash-safe steps: the intent, the key store, the main database.

    1. main database   an `erasure_intents` row is committed (what to erase, why, which tombstones)
    2. key store       the keys are destroyed and the live files scrubbed (ledger/keystore.py)
    3. main database   ciphertexts and blind indexes deleted, tombstones added, the entries appended
                       and the intent deleted, in one transaction

A crash after step 1 or 2 leaves the intent behind, and `Ledger.finish_erasures` (run by every
process that opens the key store, see bookings_ledger/wiring.py) repeats steps 2 and 3: step 2
is idempotent (nothing left to delete, the files scrubbed once more), and step 3 runs only while
its intent exists. The key store goes first because the guarantee rests on it: once it has
forgotten a key, every copy of the ciphertexts, backups of the main database included, is noise.
Every function here works inside the caller's session and commits nothing.
"""
from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ledger.blind_index import INDEXED_FIELDS
from ledger.models import BlindIndex, ErasureIntent, PersonalData



class ErasedSubject(ValueError):
    """The subject was erased (or its erasure is under way): nothing may be collected for it."""


class ErasureRaced(RuntimeError):
    """Another process finished this erasure (its entries are in the chain); no receipt here."""


@dataclass(frozen=True)
class Intent:
    """One unfinished erasure, as plain values (usable after its session closed)."""

    id: str
    subject: str
    category: str | None
    reason: str
    refs: dict[str, str]
    tombstones: list[tuple[str, str]]


@dataclass(frozen=True)
class ShreddedData:
    """What step 3 deleted, without personal data, for the entries."""

    fields: list[str]
    categories: list[str]
    blind_indexes: int


def record_intent(session: Session, subject: str, category: str | None, *, reason: str, refs: Mapping[str, str] | None,
                  tombstones: Iterable[tuple[str, str]], requested_at: str) -> Intent:
    """Write step 1's intent (flushed, committed with the caller's transaction)."""
    row = ErasureIntent(
        id=secrets.token_hex(16), subject_ref=subject, category=category, reason=reason, refs=json.dumps(dict(refs or {})),
        tombstones=json.dumps([list(pair) for pair in tombstones]), requested_at=requested_at,
    )
    session.add(row)
    session.flush()
    return _plain(row)


def pending_intents(session: Session) -> list[Intent]:
    """Every unfinished erasure, oldest first."""
    rows = session.scalars(select(ErasureIntent).order_by(ErasureIntent.requested_at, ErasureIntent.id))
    return [_plain(row) for row in rows]


def claim_intent(session: Session, intent_id: str) -> Intent | None:
    """The intent, locked for step 3; None when another process finished it already."""
    row = session.scalars(select(ErasureIntent).where(ErasureIntent.id == intent_id).with_for_update()).first()
    if row is None:
        return None
    intent = _plain(row)
    session.delete(row)
    return intent


def refuse_if_erasing(session: Session, subject: str) -> None:
    """ErasedSubject if the whole subject has an erasure under way (its keys may be gone already)."""
    under_way = session.scalar(select(func.count()).select_from(ErasureIntent).where(
        ErasureIntent.subject_ref == subject, ErasureIntent.category.is_(None)))
    if under_way:
        raise ErasedSubject(f"subject {subject} is being erased")


def shred(session: Session, subject: str, category: str | None) -> ShreddedData:
    """Delete the subject's ciphertexts (of `category`, or all) and the blind indexes of those fields."""
    rows = PersonalData.subject_ref == subject
    if category is not None:
        rows = rows & (PersonalData.category == category)
    stored = session.execute(select(PersonalData.field, PersonalData.category).where(rows)).all()
    fields = sorted({row.field for row in stored})
    indexes = BlindIndex.subject_ref == subject
    if category is not None:
        indexes = indexes & BlindIndex.kind.in_([INDEXED_FIELDS[field] for field in fields if field in INDEXED_FIELDS])
    index_count = session.scalar(select(func.count()).select_from(BlindIndex).where(indexes)) or 0
    session.execute(delete(PersonalData).where(rows))
    session.execute(delete(BlindIndex).where(indexes))
    session.expunge_all()  # nothing of the subject may linger in the identity map either
    return ShreddedData(fields, sorted({row.category for row in stored}), index_count)


def _plain(row: ErasureIntent) -> Intent:
    pairs = [(object_type, object_id) for object_type, object_id in json.loads(row.tombstones)]
    return Intent(row.id, row.subject_ref, row.category, row.reason, json.loads(row.refs), pairs)
