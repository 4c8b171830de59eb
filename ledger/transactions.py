"""The ledger's small Python API, used by the other packages.

    ledger = Ledger(engine, LedgerKeys.from_settings(settings), clock=utc_now, keystore=keystore)
    with ledger.transaction() as tx:              # one database transaction, committed at exit
        subject = tx.new_subject()
        tx.collect(subject, {"email": ..., "name": ...}, categories={"email": "contact", "name": "contact"},
                   purpose="appointment",
                   refs={"appointment": graph_id})
        tx.find_subjects(email="...")             # -> [subject]
        tx.read_personal_data(subject, viewer=user_id, purpose="access-request")   # records `viewed`
    ledger.erase_subject(subject, reason="erasure-request", tombstones=[("appointment", graph_id)])
    ledger.destroy_category(subject, "contact", reason="retention-expired")
    # both raise ledger.holds.Held while a legal hold covers the subject (see `Ledger._erase`)

Every entry appended through a transaction updates the projections in that same transaction.
Data keys live in the key store (ledger/keystore.py), a database of its own; erasure spans both
databases, so it is a `Ledger` operation of several transactions, not one of `LedgerTransaction`
(see ledger/erasure.py for its crash-safe order).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from database.times import format_time
from ledger import blind_index, erasure, holds, personal_data, projections, tombstones
from ledger.encryption import MasterKeys
from ledger.entries import AppendedEntry, append_entry, lock_head
from ledger.erasure import ErasedSubject, Intent
from ledger.keystore import DestroyedKeys, KeyStore
from ledger.models import RecordProjection, RequestProjection, SubjectProjection

Clock = Callable[[], datetime]
# What a subject's erasure does to state the ledger cannot see (the ledger never imports state/):
# given the session of the erasure's last step, the subject and the time, it reduces that state
# and names the Graph objects (type, id) to tombstone. It runs in that step's transaction, so a
# resumed erasure (finish_erasures) runs it too.
WorkingStateEraser = Callable[[Session, str, str], Iterable[tuple[str, str]]]
# Where a subject's data lives, for the legal-hold guard (the ledger cannot read the Bookings
# mirror): given a session and the subject, the Graph ids of its appointments and of the
# businesses it is a customer of (jobs/holds_scope.py). Without it only subject holds are seen.
HoldScope = Callable[[Session, str], tuple[Iterable[str], Iterable[str]]]
# A key-store category of its own, never a policy category: retention's destroy_category never
# takes it, and erasing the subject destroys it with the rest.
SUBJECT_SECRET_CATEGORY = "~subject-secret"


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
    """One finished erasure: its entries and the moment it became final everywhere the service controls.

    `keys_destroyed_at` is when the key store's deletion and its scrub (checkpoint / VACUUM)
    completed; `final_everywhere_at` adds the key store's backup retention (KEYSTORE_BACKUP_RETENTION_DAYS):
    after it no copy of the keys exists anywhere the service controls. `erased_seq` is None when
    only one category was destroyed (`category` set).
    """

    subject: str
    category: str | None
    erased_seq: int | None
    key_destroyed_seq: int
    keys_destroyed_at: str
    final_everywhere_at: str


class Ledger:
    """Entry point: hands out transactions over one engine, with the keys, key store and clock given."""

    def __init__(self, engine: Engine, keys: LedgerKeys, clock: Clock = utc_now, *, keystore: KeyStore,
                 working_state_eraser: WorkingStateEraser | None = None, hold_scope: HoldScope | None = None) -> None:
        self.engine, self.keys, self.clock, self.keystore = engine, keys, clock, keystore
        self.working_state_eraser, self.hold_scope = working_state_eraser, hold_scope
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[LedgerTransaction]:
        """One database transaction: committed when the block ends, rolled back if it raises.

        It takes the ledger's lock first. Its block may write projections and mirror rows before it
        appends, and another transaction holding the lock may write the same rows after appending:
        the two would wait on each other (the soak found it on PostgreSQL). One order, the lock
        first, leaves nothing to wait for in a cycle; appends are serialised by that lock anyway.
        On SQLite, BEGIN IMMEDIATE already locks the whole database at the start."""
        with self._sessions.begin() as session:
            if self.engine.dialect.name != "sqlite":
                lock_head(session)
            yield LedgerTransaction(session, self.keys, self.clock, self.keystore, self.working_state_eraser)

    def erase_subject(
        self, subject: str, *, reason: str, refs: Mapping[str, str] | None = None, tombstones: Iterable[tuple[str, str]] = ()
    ) -> ErasureReceipt:
        """Destroy the subject's keys in the key store, delete its data, tombstone its Graph objects, and
        record `erased` and `key-destroyed`; returns when the erasure is final in every live file.
        Several transactions of its own: never call it inside `transaction()` (on SQLite it would wait
        for the write lock its caller holds)."""
        return self._erase(subject, None, reason=reason, refs=refs, tombstones=tombstones)

    def destroy_category(self, subject: str, category: str, *, reason: str) -> ErasureReceipt:
        """Destroy the subject's key of one data category (its other categories stay readable) and delete
        that category's data; records `category-key-destroyed`."""
        return self._erase(subject, category, reason=reason, refs=None, tombstones=())

    def finish_erasures(self) -> list[ErasureReceipt]:
        """Finish every erasure a crash interrupted (see ledger/erasure.py); their receipts.

        Holds are not checked here, on purpose: an intent exists only if no hold covered the subject
        when it was recorded (`_erase` checks in the intent's own transaction), so a hold placed
        since came after the decision; and step 2 may already have destroyed the keys, so refusing
        would leave the erasure half done rather than undo it."""
        with self._sessions.begin() as session:
            intents = erasure.pending_intents(session)
        receipts = [self._finish(intent) for intent in intents]
        return [receipt for receipt in receipts if receipt is not None]

    def _erase(self, subject: str, category: str | None, *, reason: str, refs: Mapping[str, str] | None,
               tombstones: Iterable[tuple[str, str]]) -> ErasureReceipt:
        with self._sessions.begin() as session:
            self._refuse_if_held(session, subject)
            intent = erasure.record_intent(session, subject, category, reason=reason, refs=refs, tombstones=tombstones,
                                           requested_at=format_time(self.clock()))
        receipt = self._finish(intent)
        if receipt is None:
            raise erasure.ErasureRaced(f"erasure {intent.id} was finished by another process")
        return receipt

    def _refuse_if_held(self, session: Session, subject: str) -> None:
        """Held when an active legal hold covers the subject, its appointments or its businesses.

        Runs in the transaction that records the intent, after taking the chain's lock, which
        `place_hold` takes too (it appends): on either backend a concurrent hold is then either
        committed before this check, and seen, or placed after the intent, which was decided
        before it and is finished (see `finish_erasures`)."""
        lock_head(session)
        appointments, businesses = self.hold_scope(session, subject) if self.hold_scope else ((), ())
        covering = holds.holds_covering(session, self.clock(), subject=subject, appointment_ids=appointments,
                                        business_ids=businesses)
        if covering:
            raise holds.Held(hold.id for hold in covering)

    def _finish(self, intent: Intent) -> ErasureReceipt | None:
        if intent.category is None:
            destroyed = self.keystore.destroy_subject(intent.subject)
        else:
            destroyed = self.keystore.destroy_category(intent.subject, intent.category)
        destroyed_at = self.clock()  # read after the key store's scrub returned: the deletion is complete
        with self.transaction() as tx:
            return tx.record_erasure(intent, destroyed, destroyed_at)


class LedgerTransaction:
    """The ledger's operations inside one database transaction."""

    def __init__(self, session: Session, keys: LedgerKeys, clock: Clock, keystore: KeyStore,
                 working_state_eraser: WorkingStateEraser | None = None) -> None:
        self.session, self.keys, self.clock, self.keystore = session, keys, clock, keystore
        self.working_state_eraser = working_state_eraser

    def append(self, kind: str, *, subject: str | None = None, refs: Mapping[str, str] | None = None, **details: Any) -> AppendedEntry:
        """Append an entry (no personal data in it!) and update the projections."""
        appended = append_entry(self.session, kind, self.clock(), {"subject": subject, "refs": dict(refs) if refs else None, **details})
        projections.apply_entry(self.session, appended.entry)
        return appended

    def new_subject(self) -> str:
        """A new data subject; returns its random reference (its keys are made per category on collection)."""
        return personal_data.new_subject_ref()

    def collect(
        self, subject: str, values: Mapping[str, str], *, categories: Mapping[str, str], purpose: str,
        refs: Mapping[str, str] | None = None, kind: str = "collected", **details: Any,
    ) -> AppendedEntry:
        """Store values encrypted, each under its data category (`categories[field]`; fields `email` and
        `phone` are also blind-indexed), and record them."""
        missing = set(values) - set(categories)
        if missing:
            raise ValueError(f"no data category for fields {sorted(missing)}")
        self._refuse_if_erased(subject)
        # The key store commits a new key before this transaction does: a rollback here leaves an
        # unused key behind, never a ciphertext without its key.
        data_keys = self.keystore.keys_for(subject, {categories[field] for field in values})
        stored = personal_data.store_values(
            self.session, data_keys, subject, values, categories=categories, purpose=purpose, created_at=self._now()
        )
        digests = {field: value.ciphertext_digest for field, value in stored.items()}
        indexed = blind_index.INDEXED_FIELDS
        identifiers = {indexed[field]: value for field, value in values.items() if field in indexed}
        self._index(subject, identifiers)
        return self.append(
            kind, subject=subject, refs=refs, fields=sorted(values),
            categories=sorted({categories[field] for field in values}), purpose=purpose, digests=digests, **details,
        )

    def subject_secret(self, subject: str) -> bytes:
        """The subject's own random secret, kept in the key store and destroyed with the subject's keys,
        to derive keys that must die with it (change-detection digests); refused once it is erased."""
        self._refuse_if_erased(subject)
        return self.keystore.keys_for(subject, [SUBJECT_SECRET_CATEGORY])[SUBJECT_SECRET_CATEGORY]

    def read_personal_data(self, subject: str, *, viewer: str, purpose: str,
                           refs: Mapping[str, str] | None = None) -> dict[str, str]:
        """The subject's personal data, decrypted; records a `viewed` entry naming viewer and purpose
        (and `refs`, e.g. the dashboard's view record: ledger/views.py)."""
        values = personal_data.read_values(self.session, self.keystore.existing_keys(subject), subject)
        self.append("viewed", subject=subject, refs=refs, actor=viewer, purpose=purpose, fields=sorted(values))
        return values

    def find_subjects(self, *, email: str | None = None, phone: str | None = None) -> list[str]:
        """Subjects whose email or phone number matches, through the blind indexes alone."""
        digests = blind_index.identifier_digests(self.keys.blind_index_key, self.keys.phone_region, email=email, phone=phone)
        return personal_data.find_subjects(self.session, digests)

    def record_erasure(self, intent: Intent, destroyed: DestroyedKeys, destroyed_at: datetime) -> ErasureReceipt | None:
        """Step 3 of an erasure whose keys are destroyed: delete its data, tombstone, append its entries;
        None when another process recorded it already."""
        if erasure.claim_intent(self.session, intent.id) is None:
            return None
        shredded = erasure.shred(self.session, intent.subject, intent.category)
        tombstones = list(intent.tombstones)
        if intent.category is None and self.working_state_eraser is not None:
            tombstones += self.working_state_eraser(self.session, intent.subject, self._now())
        for object_type, object_id in tombstones:
            self.tombstone(object_type, object_id)
        moments = {"keys_destroyed_at": format_time(destroyed_at),
                   "final_everywhere_at": format_time(destroyed_at + self.keystore.backup_retention)}
        # A resumed erasure finds the keys gone already: the categories also come from the rows deleted.
        categories = sorted(set(destroyed.categories) | set(shredded.categories))
        erased_seq = None
        if intent.category is None:
            erased_seq = self.append(
                "erased", subject=intent.subject, refs=intent.refs, reason=intent.reason, fields=shredded.fields,
                categories=categories, blind_indexes=shredded.blind_indexes, **moments,
            ).seq
            kind = "key-destroyed"
        else:
            kind = "category-key-destroyed"
        destroyed_seq = self.append(
            kind, subject=intent.subject, reason=intent.reason, categories=categories or [intent.category],
            master_key_ids=destroyed.master_key_ids, fields=shredded.fields, **moments,
        ).seq
        return ErasureReceipt(intent.subject, intent.category, erased_seq, destroyed_seq, **moments)

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

    def _refuse_if_erased(self, subject: str) -> None:
        known = self.subject(subject)
        if known is not None and known.status == "erased":
            raise ErasedSubject(f"subject {subject} was erased")
        erasure.refuse_if_erasing(self.session, subject)

    def _index(self, subject: str, identifiers: Mapping[str, str]) -> None:
        digests = blind_index.identifier_digests(self.keys.blind_index_key, self.keys.phone_region, **identifiers)
        personal_data.add_blind_indexes(self.session, subject, digests)

    def _now(self) -> str:
        return format_time(self.clock())
