"""Storing, reading and finding a subject's personal data: ciphertexts and blind indexes.

The data keys are the key store's (ledger/keystore.py); every function here works inside the
caller's session on the main database and commits nothing.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ledger import encryption
from ledger.models import BlindIndex, PersonalData


@dataclass(frozen=True)
class StoredValue:
    """Where one value went: its row id and the SHA-256 of its ciphertext (hex), for the entry."""

    row_id: str
    ciphertext_digest: str


def new_subject_ref() -> str:
    """A random subject reference: 128 bits, never derived from an identifier."""
    return secrets.token_hex(16)


def store_values(
    session: Session, data_keys: Mapping[str, bytes], subject_ref: str, values: Mapping[str, str], *,
    categories: Mapping[str, str], purpose: str, created_at: str,
) -> dict[str, StoredValue]:
    """Encrypt each field's value into a new row under the key of its data category (`categories[field]`,
    `data_keys[category]`), replacing the subject's earlier values of those fields."""
    # One delete and one flush for all the fields: a round trip per field was most of the cost
    # of ingesting a booking on PostgreSQL.
    session.execute(delete(PersonalData).where(PersonalData.subject_ref == subject_ref, PersonalData.field.in_(list(values))))
    stored = {}
    for field, value in values.items():
        row_id = secrets.token_hex(16)
        category = categories[field]
        context = encryption.field_context(subject_ref, row_id, field, category, purpose)
        ciphertext = encryption.encrypt_value(data_keys[category], value, context)
        session.add(PersonalData(
            id=row_id, subject_ref=subject_ref, field=field, category=category, purpose=purpose,
            ciphertext=ciphertext, created_at=created_at,
        ))
        stored[field] = StoredValue(row_id, hashlib.sha256(ciphertext).hexdigest())
    session.flush()
    return stored


def read_values(
    session: Session, data_keys: Mapping[str, bytes], subject_ref: str, fields: list[str] | None = None
) -> dict[str, str]:
    """Every stored field of the subject (or only `fields`), decrypted under its category's key, by
    field name; VaultError (naming the row) when that key no longer exists."""
    query = select(PersonalData).where(PersonalData.subject_ref == subject_ref).order_by(PersonalData.field)
    if fields is not None:
        query = query.where(PersonalData.field.in_(fields))
    return {row.field: _decrypt(row, data_keys) for row in session.scalars(query)}


def _decrypt(row: PersonalData, data_keys: Mapping[str, bytes]) -> str:
    key = data_keys.get(row.category)
    if key is None:
        raise encryption.VaultError(f"personal_data row {row.id}: the {row.category} key of its subject was destroyed")
    context = encryption.field_context(row.subject_ref, row.id, row.field, row.category, row.purpose)
    return encryption.decrypt_value(key, row.ciphertext, context, row_id=row.id)


def subject_categories(session: Session, subject_ref: str) -> list[str]:
    """The data categories the subject has stored values of, sorted."""
    query = select(PersonalData.category).where(PersonalData.subject_ref == subject_ref).distinct()
    return sorted(session.scalars(query))


def add_blind_indexes(session: Session, subject_ref: str, digests: list[tuple[str, bytes]]) -> None:
    """Point each (kind, digest) at the subject; an existing pointer is kept as it is."""
    for kind, digest in digests:
        if session.get(BlindIndex, (kind, digest, subject_ref)) is None:
            session.add(BlindIndex(kind=kind, digest=digest, subject_ref=subject_ref))
    session.flush()


def find_subjects(session: Session, digests: list[tuple[str, bytes]]) -> list[str]:
    """The subjects any of the (kind, digest) pairs point at, sorted."""
    found: set[str] = set()
    for kind, digest in digests:
        found.update(session.scalars(select(BlindIndex.subject_ref).where(BlindIndex.kind == kind, BlindIndex.digest == digest)))
    return sorted(found)
