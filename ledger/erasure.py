"""Crypto-shredding a subject: its ciphertexts, blind indexes and data key leave the database.

The chain never held the personal data, so every hash still verifies afterwards; copies of the
ciphertexts in backups or exports are unreadable once the data key is gone.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ledger.models import BlindIndex, DataKey, PersonalData


@dataclass(frozen=True)
class ShreddedSubject:
    """What was deleted, described without personal data, for the `erased` and `key-destroyed` entries."""

    fields: list[str]
    categories: list[str]
    blind_indexes: int
    master_key_id: str | None
    wrapped_key_digest: str | None


def shred_subject(session: Session, subject_ref: str) -> ShreddedSubject:
    """Delete the subject's personal_data rows, blind-index rows and data key, in this transaction."""
    stored = session.execute(
        select(PersonalData.field, PersonalData.category).where(PersonalData.subject_ref == subject_ref)
    ).all()
    index_count = session.scalar(select(func.count()).select_from(BlindIndex).where(BlindIndex.subject_ref == subject_ref))
    key = session.get(DataKey, subject_ref)
    described = ShreddedSubject(
        fields=sorted({row.field for row in stored}),
        categories=sorted({row.category for row in stored}),
        blind_indexes=index_count or 0,
        master_key_id=key.master_key_id if key else None,
        wrapped_key_digest=hashlib.sha256(key.wrapped_key).hexdigest() if key else None,
    )
    session.execute(delete(PersonalData).where(PersonalData.subject_ref == subject_ref))
    session.execute(delete(BlindIndex).where(BlindIndex.subject_ref == subject_ref))
    session.execute(delete(DataKey).where(DataKey.subject_ref == subject_ref))
    session.expunge_all()  # nothing of the subject may linger in the identity map either
    return described
