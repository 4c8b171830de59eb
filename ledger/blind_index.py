"""Blind indexes: keyed HMAC-SHA256 of normalised emails and phone numbers, and their re-index.

digest = HMAC-SHA256(BLIND_INDEX_KEY, kind || 0x00 || normalised value), so an email and a phone
number with the same text never collide. The normalisation is `ledger.identifiers` (the one
every lookup uses). Errors never repeat the value.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ledger import personal_data
from ledger.identifiers import IdentifierError, normalise_email, normalise_phone
from ledger.models import BlindIndex, PersonalData

if TYPE_CHECKING:
    from ledger.keystore import KeyStore
    from ledger.transactions import LedgerKeys

EMAIL = "email"
PHONE = "phone"
# Stored field name -> index kind: the fields `collect` indexes automatically.
INDEXED_FIELDS = {"email": EMAIL, "phone": PHONE}
REINDEX_BATCH = 500  # subjects per query: memory stays flat however many subjects there are


def blind_digest(key: bytes, kind: str, normalised: str) -> bytes:
    """The blind index of an already normalised identifier."""
    return hmac.new(key, kind.encode() + b"\x00" + normalised.encode("utf-8"), hashlib.sha256).digest()


def identifier_digests(key: bytes, region: str, *, email: str | None = None, phone: str | None = None) -> list[tuple[str, bytes]]:
    """(kind, digest) for each identifier given; IdentifierError if one has no canonical form."""
    digests = []
    if email is not None:
        digests.append((EMAIL, blind_digest(key, EMAIL, normalise_email(email))))
    if phone is not None:
        digests.append((PHONE, blind_digest(key, PHONE, normalise_phone(phone, region))))
    return digests


@dataclass(frozen=True)
class ReindexReport:
    """What `reindex_all` did: subjects visited, digests written, values no longer indexable."""

    subjects: int
    digests: int
    unindexable: int


def reindex_all(session: Session, keys: LedgerKeys, keystore: KeyStore) -> ReindexReport:
    """Recompute every subject's blind indexes from its stored `email`/`phone` values.

    Digests cannot be recomputed without the plaintext, so each value is decrypted (in memory
    only; nothing is logged or appended). A value the current normalisation refuses loses its
    index: a stale digest would be a silent match the normalisation no longer allows.
    """
    subjects = digests = unindexable = 0
    after = ""
    while batch := _indexed_subjects(session, after):
        for subject in batch:
            values = _indexed_values(session, keystore, subject)
            fresh = []
            for field, value in values.items():
                try:
                    fresh += identifier_digests(keys.blind_index_key, keys.phone_region, **{INDEXED_FIELDS[field]: value})
                except IdentifierError:
                    unindexable += 1
            session.execute(delete(BlindIndex).where(BlindIndex.subject_ref == subject))
            personal_data.add_blind_indexes(session, subject, fresh)
            subjects, digests = subjects + 1, digests + len(fresh)
        after = batch[-1]
    return ReindexReport(subjects, digests, unindexable)


def _indexed_subjects(session: Session, after: str) -> list[str]:
    query = (select(PersonalData.subject_ref).distinct()
             .where(PersonalData.field.in_(list(INDEXED_FIELDS)), PersonalData.subject_ref > after)
             .order_by(PersonalData.subject_ref).limit(REINDEX_BATCH))
    return list(session.scalars(query))


def _indexed_values(session: Session, keystore: KeyStore, subject: str) -> dict[str, str]:
    # The one place the re-index touches key material: data keys are loaded here only.
    return personal_data.read_values(session, keystore.existing_keys(subject), subject, fields=list(INDEXED_FIELDS))
