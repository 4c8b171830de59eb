"""Storing, reading and finding a subject's personal data: ciphertexts, data keys, blind indexes.

Every function works inside the caller's session; nothing here commits.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ledger import encryption
from ledger.models import BlindIndex, DataKey, PersonalData


@dataclass(frozen=True)
class StoredValue:
    """Where one value went: its row id and the SHA-256 of its ciphertext (hex), for the entry."""

    row_id: str
    ciphertext_digest: str


def new_subject_ref() -> str:
    """A random subject reference: 128 bits, never derived from an identifier."""
    return secrets.token_hex(16)


def create_data_key(session: Session, master: encryption.MasterKeys, subject_ref: str, created_at: str) -> None:
    """Give a new subject its random data key, wrapped by the current master key."""
    wrapped = encryption.wrap_data_key(master.current, encryption.new_data_key(), subject_ref)
    session.add(DataKey(subject_ref=subject_ref, wrapped_key=wrapped, master_key_id=master.current_id, created_at=created_at))
    session.flush()


def load_data_key(session: Session, master: encryption.MasterKeys, subject_ref: str) -> bytes:
    """The subject's data key, unwrapped; VaultError if it was destroyed or never existed."""
    row = session.get(DataKey, subject_ref)
    if row is None:
        raise encryption.VaultError(f"subject {subject_ref} has no data key (erased or unknown)")
    return encryption.unwrap_data_key(master.get(row.master_key_id), row.wrapped_key, subject_ref)


def store_values(
    session: Session, data_key: bytes, subject_ref: str, values: Mapping[str, str], *, category: str, purpose: str,
    created_at: str,
) -> dict[str, StoredValue]:
    """Encrypt each field's value into a new row, replacing the subject's earlier values of those fields."""
    # One delete and one flush for all the fields: a round trip per field was most of the cost
    # of ingesting a booking on PostgreSQL.
    session.execute(delete(PersonalData).where(PersonalData.subject_ref == subject_ref, PersonalData.field.in_(list(values))))
    stored = {}
    for field, value in values.items():
        row_id = secrets.token_hex(16)
        context = encryption.field_context(subject_ref, row_id, field, category, purpose)
        ciphertext = encryption.encrypt_value(data_key, value, context)
        session.add(PersonalData(
            id=row_id, subject_ref=subject_ref, field=field, category=category, purpose=purpose,
            ciphertext=ciphertext, created_at=created_at,
        ))
        stored[field] = StoredValue(row_id, hashlib.sha256(ciphertext).hexdigest())
    session.flush()
    return stored


def read_values(session: Session, data_key: bytes, subject_ref: str, fields: list[str] | None = None) -> dict[str, str]:
    """Every stored field of the subject (or only `fields`), decrypted, by field name."""
    query = select(PersonalData).where(PersonalData.subject_ref == subject_ref).order_by(PersonalData.field)
    if fields is not None:
        query = query.where(PersonalData.field.in_(fields))
    rows = session.scalars(query)
    return {
        row.field: encryption.decrypt_value(
            data_key, row.ciphertext, encryption.field_context(subject_ref, row.id, row.field, row.category, row.purpose), row_id=row.id
        )
        for row in rows
    }


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
