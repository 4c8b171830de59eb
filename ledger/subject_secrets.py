"""The per-subject secret that keys a subject's change-detection digests, and dies with the subject.

Digests of a person's content must not be computable with any key that outlives the person: a
digest under a long-lived key (the blind-index key, say) would confirm a guessed value from any
copy of the database for as long as that key lives. So the digest key is derived with HMAC from
the subject's own random data key, which erasure destroys. `subject_secret` is the one place that
loads that secret: pointing it at another store (a key store, a vault) is a change here only.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from ledger import personal_data
from ledger.encryption import MasterKeys


def subject_secret(session: Session, master: MasterKeys, subject_ref: str) -> bytes:
    """The subject's random secret (its data key); VaultError once the subject is erased."""
    return personal_data.load_data_key(session, master, subject_ref)
