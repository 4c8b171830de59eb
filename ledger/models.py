"""The ledger's tables as SQLAlchemy 2 typed models (the migrations in `migrations/` create them).

Times are stored as text in the ledger's own format (`2024-02-26T09:30:00.000000Z`, see
`entries.format_time`) so that SQLite and PostgreSQL store and sort them identically.

    chain         ledger_head, ledger_entries (append-only), entry_index (rebuildable)
    evidence      checkpoints, verify_state
    personal data personal_data, blind_indexes                   (erased with the subject; the data
                                                                  keys are in the key store, ledger/keystore.py)
    erasure       erasure_intents                                (an erasure asked for and not yet finished)
    guards        tombstones
    projections   subjects, records, requests                    (rebuildable from entries)
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from database.base import NAME, REF, TIME, Base


class LedgerHead(Base):
    """The one row holding the last sequence number and hash; appends lock it."""

    __tablename__ = "ledger_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerEntry(Base):
    """One entry of the chain: its canonical bytes and hash. Triggers refuse UPDATE and DELETE."""

    __tablename__ = "ledger_entries"
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class EntryIndex(Base):
    """Query columns copied from each entry's body; not trusted, rebuilt by `rebuild_entry_index`."""

    __tablename__ = "entry_index"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    subject_ref: Mapped[str | None] = mapped_column(REF, index=True)
    time: Mapped[str] = mapped_column(TIME)


class CheckpointRecord(Base):
    """A signed checkpoint note of the first `size` entries, as written to CHECKPOINT_DIR."""

    __tablename__ = "checkpoints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(TIME)
    # The Merkle compact range of the `size` entries (its subtree roots, 32 bytes each, largest
    # first): the next checkpoint extends it instead of rehashing every entry. None before 0005.
    frontier: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class VerifyState(Base):
    """Where the last successful `verify` stopped, so the next one can resume from there."""

    __tablename__ = "verify_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[bytes] = mapped_column(LargeBinary)
    frontier: Mapped[bytes] = mapped_column(LargeBinary)
    checkpoint_id: Mapped[int] = mapped_column(Integer)
    verified_at: Mapped[str] = mapped_column(TIME)


class PersonalData(Base):
    """One field of a subject's personal data, AES-256-GCM under the subject's key of its category."""

    __tablename__ = "personal_data"
    id: Mapped[str] = mapped_column(REF, primary_key=True)
    subject_ref: Mapped[str] = mapped_column(REF, index=True)
    field: Mapped[str] = mapped_column(NAME)
    category: Mapped[str] = mapped_column(NAME)
    purpose: Mapped[str] = mapped_column(NAME)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[str] = mapped_column(TIME)


class BlindIndex(Base):
    """HMAC-SHA256 of a normalised email or phone number, pointing at a subject."""

    __tablename__ = "blind_indexes"
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    subject_ref: Mapped[str] = mapped_column(REF, primary_key=True, index=True)


class ErasureIntent(Base):
    """An erasure (of a subject, or of one category when `category` is set) that was asked for and is
    not finished: written before the key store is touched, deleted with the entries that record it."""

    __tablename__ = "erasure_intents"
    id: Mapped[str] = mapped_column(REF, primary_key=True)
    subject_ref: Mapped[str] = mapped_column(REF, index=True)
    category: Mapped[str | None] = mapped_column(NAME, nullable=True)
    reason: Mapped[str] = mapped_column(NAME)
    refs: Mapped[str] = mapped_column(Text)        # JSON object of Graph ids / request id
    tombstones: Mapped[str] = mapped_column(Text)  # JSON list of [object_type, object_id]
    requested_at: Mapped[str] = mapped_column(TIME)


class Tombstone(Base):
    """A Graph object that was erased and must never be ingested again."""

    __tablename__ = "tombstones"
    object_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    tombstoned_at: Mapped[str] = mapped_column(TIME)


class SubjectProjection(Base):
    """Current state of a data subject (whether it is held is the legal_holds table's to say, ledger/holds.py)."""

    __tablename__ = "subjects"
    subject_ref: Mapped[str] = mapped_column(REF, primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    last_seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[str] = mapped_column(TIME)


class RecordProjection(Base):
    """Current state of one Graph object (appointment, customer) the ledger knows of."""

    __tablename__ = "records"
    object_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    subject_ref: Mapped[str | None] = mapped_column(REF, index=True)
    state: Mapped[str] = mapped_column(String(20))
    last_seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[str] = mapped_column(TIME)


class RequestProjection(Base):
    """Current state of one data-subject request (ledger/requests.py says what each column means).

    `subject_ref` is the subject the request is about once it ran (the first of `subjects`);
    `requester_ref` the subject under whose keys the requester's contact details are kept."""

    __tablename__ = "requests"
    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_ref: Mapped[str | None] = mapped_column(REF, index=True)
    request_type: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(32), index=True)
    received_at: Mapped[str] = mapped_column(TIME)
    completed_at: Mapped[str | None] = mapped_column(TIME)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    regime: Mapped[str | None] = mapped_column(String(8))
    channel: Mapped[str | None] = mapped_column(String(20))
    requester_ref: Mapped[str | None] = mapped_column(REF, index=True)
    due_at: Mapped[str | None] = mapped_column(TIME)              # the deadline in force (extended or not)
    first_due_at: Mapped[str | None] = mapped_column(TIME)        # the first period's end: an extension is noticed before it
    confirm_by: Mapped[str | None] = mapped_column(TIME)          # CCPA: receipt confirmed by then (10 business days)
    extended_at: Mapped[str | None] = mapped_column(TIME)
    verification: Mapped[str | None] = mapped_column(String(20))  # the degree reached: ledger.requests.LEVELS
    verified_at: Mapped[str | None] = mapped_column(TIME)
    verification_wait_seconds: Mapped[int | None] = mapped_column(BigInteger)
    duplicate_of: Mapped[str | None] = mapped_column(String(64))
    subjects: Mapped[str | None] = mapped_column(Text)            # JSON list of the subject refs it covers
    outcome: Mapped[str | None] = mapped_column(String(20))
    certificate_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[str | None] = mapped_column(TIME)
