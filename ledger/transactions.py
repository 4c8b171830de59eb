"""The ledger's small Python API, used by the other packages.

    ledger = Ledger(engine, LedgerKeys.from_settings(settings), clock=utc_now)
    with ledger.transaction() as tx:              # one database transaction, committed at exit
        subject = tx.new_subject()
        tx.collect(subject, {"email": ..., "name": ...}, category="booking", purpose="appointment",
                   refs={"appointment": graph_id})
        tx.find_subjects(email="...")             # -> [subject]
        tx.read_personal_data(subject, viewer=user_id, purpose="access-request")   # records `viewed`
        tx.erase_subject(subject, reason="erasure-request", tombstones=[("appointment", graph_id)])

Every entry appended through a transaction updates the projections in that same transaction.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ledger import blind_index, personal_data, projections, tombstones
from database.times import format_time
from ledger.entries import AppendedEntry, append_entry
from ledger.erasure import shred_subject
from ledger.models import RecordProjection, RequestProjection, SubjectProjection
from ledger.encryption import MasterKeys

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class LedgerKeys:
    """The keys the ledger needs for personal data: master keys, blind-index key, phone region."""

    master: MasterKeys
    blind_index_key: bytes
    phone_region: str = "US"

    @classmethod
    def from_settings(cls, settings: Any) -> LedgerKeys:
        """Keys from a `config.Settings`; a missing key is a SettingsError naming it."""
        master = MasterKeys(settings.key("LEDGER_MASTER_KEY"), tuple(settings.previous_master_keys))
        return cls(master, settings.key("BLIND_INDEX_KEY"), settings.DEFAULT_PHONE_REGION)


@dataclass(frozen=True)
class ErasureReceipt:
    """The sequence numbers of the `erased` and `key-destroyed` entries of one erasure."""

    erased_seq: int
    key_destroyed_seq: int


class Ledger:
    """Entry point: hands out transactions over one engine, with the keys and clock given."""

    def __init__(self, engine: Engine, keys: LedgerKeys, clock: Clock = utc_now) -> None:
        self.engine, self.keys, self.clock = engine, keys, clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[LedgerTransaction]:
        """One database transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions.begin() as session:
            yield LedgerTransaction(session, self.keys, self.clock)


class LedgerTransaction:
    """The ledger's operations inside one database transaction."""

    def __init__(self, session: Session, keys: LedgerKeys, clock: Clock) -> None:
        self.session, self.keys, self.clock = session, keys, clock

    def append(self, kind: str, *, subject: str | None = None, refs: Mapping[str, str] | None = None, **details: Any) -> AppendedEntry:
        """Append an entry (no personal data in it!) and update the projections."""
        appended = append_entry(self.session, kind, self.clock(), {"subject": subject, "refs": dict(refs) if refs else None, **details})
        projections.apply_entry(self.session, appended.entry)
        return appended

    def new_subject(self) -> str:
        """A new data subject with its own random data key; returns its random reference."""
        subject = personal_data.new_subject_ref()
        personal_data.create_data_key(self.session, self.keys.master, subject, self._now())
        return subject

    def collect(
        self, subject: str, values: Mapping[str, str], *, category: str, purpose: str,
        refs: Mapping[str, str] | None = None, kind: str = "collected", **details: Any,
    ) -> AppendedEntry:
        """Store values encrypted (fields `email` and `phone` are also blind-indexed) and record them."""
        data_key = personal_data.load_data_key(self.session, self.keys.master, subject)
        stored = personal_data.store_values(
            self.session, data_key, subject, values, category=category, purpose=purpose, created_at=self._now()
        )
        digests = {field: value.ciphertext_digest for field, value in stored.items()}
        identifiers = {blind_index.INDEXED_FIELDS[field]: value for field, value in values.items() if field in blind_index.INDEXED_FIELDS}
        self._index(subject, identifiers)
        return self.append(
            kind, subject=subject, refs=refs, fields=sorted(values), categories=[category], purpose=purpose,
            digests=digests, **details,
        )

    def read_personal_data(self, subject: str, *, viewer: str, purpose: str) -> dict[str, str]:
        """The subject's personal data, decrypted; records a `viewed` entry naming viewer and purpose."""
        data_key = personal_data.load_data_key(self.session, self.keys.master, subject)
        values = personal_data.read_values(self.session, data_key, subject)
        self.append("viewed", subject=subject, actor=viewer, purpose=purpose, fields=sorted(values))
        return values

    def find_subjects(self, *, email: str | None = None, phone: str | None = None) -> list[str]:
        """Subjects whose email or phone number matches, through the blind indexes alone."""
        digests = blind_index.identifier_digests(self.keys.blind_index_key, self.keys.phone_region, email=email, phone=phone)
        return personal_data.find_subjects(self.session, digests)

    def erase_subject(
        self, subject: str, *, reason: str, refs: Mapping[str, str] | None = None, tombstones: Iterable[tuple[str, str]] = ()
    ) -> ErasureReceipt:
        """Crypto-shred the subject, tombstone its Graph objects, record `erased` and `key-destroyed`."""
        shredded = shred_subject(self.session, subject)
        for object_type, object_id in tombstones:
            self.tombstone(object_type, object_id)
        erased = self.append(
            "erased", subject=subject, refs=refs, reason=reason, fields=shredded.fields,
            categories=shredded.categories, blind_indexes=shredded.blind_indexes,
        )
        destroyed = self.append(
            "key-destroyed", subject=subject, master_key_id=shredded.master_key_id,
            wrapped_key_digest=shredded.wrapped_key_digest,
        )
        return ErasureReceipt(erased.seq, destroyed.seq)

    def tombstone(self, object_type: str, object_id: str) -> None:
        """Mark a Graph object as erased for good."""
        tombstones.add_tombstone(self.session, object_type, object_id, self._now())

    def is_tombstoned(self, object_type: str, object_id: str) -> bool:
        """Whether a Graph object was erased and must not be ingested again."""
        return tombstones.is_tombstoned(self.session, object_type, object_id)

    def subject(self, subject: str) -> SubjectProjection | None:
        """The subject's projection (status, hold), if the ledger knows it."""
        return self.session.get(SubjectProjection, subject)

    def record(self, object_type: str, object_id: str) -> RecordProjection | None:
        """The current state of a Graph object, if the ledger knows it."""
        return self.session.get(RecordProjection, (object_type, object_id))

    def request(self, request_id: str) -> RequestProjection | None:
        """The current state of a data-subject request, if the ledger knows it."""
        return self.session.get(RequestProjection, request_id)

    def _index(self, subject: str, identifiers: Mapping[str, str]) -> None:
        digests = blind_index.identifier_digests(self.keys.blind_index_key, self.keys.phone_region, **identifiers)
        personal_data.add_blind_indexes(self.session, subject, digests)

    def _now(self) -> str:
        return format_time(self.clock())
