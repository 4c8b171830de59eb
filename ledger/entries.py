"""Appending entries to the hash chain, under the ledger's one lock.

Why a lock and not a database sequence: a sequence hands out numbers outside the transaction, so
a rolled-back append would leave a gap that looks exactly like a deleted entry, and two
concurrent appends could both chain onto the same previous hash (a fork). Instead every append
locks the one `ledger_head` row (`SELECT ... FOR UPDATE` on PostgreSQL; on SQLite the whole
database is locked by `BEGIN IMMEDIATE`, see `db.py`), takes seq = head.seq + 1 and the head's
hash, and moves the head in the same transaction. A rollback undoes the head with the entry.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, delete, func, select
from sqlalchemy.orm import Session

from database.times import format_time
from ledger.core.canonical import FORMAT_VERSION, canonical_bytes, entry_hash, parse_entry
from ledger.models import EntryIndex, LedgerEntry, LedgerHead

ENTRY_KINDS = frozenset({
    "collected", "updated", "cancelled", "retention-expired", "anonymised", "erased",
    "key-destroyed", "category-key-destroyed", "request-received", "request-completed", "hold-placed", "hold-released",
    "exported", "viewed", "checkpoint", "key-rotated", "notice-changed", "opted-out",
    "sync-gap", "sync-gap-filled",
    "child-flagged",
    "anonymisation-verified",
    "policy-changed",
    # Data-subject requests (ledger/requests.py): ids, types, states and dates only, never a value.
    "request-confirmed", "request-discarded", "request-verified", "request-linked", "request-extended",
    "request-started", "request-refused", "rectified", "restricted", "restriction-lifted", "objected",
    "message-sent", "certificate-issued",
})
RESERVED_KEYS = frozenset({"v", "seq", "time", "kind"})
STREAM_BATCH = 10_000  # rows per fetch when streaming the chain: flat memory, few round trips
LAST_POSSIBLE_SEQ = 2**63 - 1  # BIGINT's maximum: "no upper bound" for a range of seqs
ROWS_BETWEEN = "SELECT seq, body, hash FROM ledger_entries WHERE seq > {p} AND seq <= {p} ORDER BY seq"


class EntryError(ValueError):
    """An entry was refused before it reached the chain (unknown kind, reserved key)."""


@dataclass(frozen=True)
class AppendedEntry:
    """An entry as it now stands in the chain."""

    seq: int
    hash: bytes
    entry: dict[str, Any]


def build_entry(kind: str, seq: int, time: datetime, details: Mapping[str, Any]) -> dict[str, Any]:
    """The entry object for `kind` at `seq`; details with value None are left out."""
    if kind not in ENTRY_KINDS:
        raise EntryError(f"unknown entry kind {kind!r}")
    clash = RESERVED_KEYS.intersection(details)
    if clash:
        raise EntryError(f"details may not set {', '.join(sorted(clash))}")
    entry = {key: value for key, value in details.items() if value is not None}
    entry.update(v=FORMAT_VERSION, seq=seq, time=format_time(time), kind=kind)
    return entry


def lock_head(session: Session) -> LedgerHead:
    """The ledger head, locked until the session's transaction ends."""
    statement = select(LedgerHead).where(LedgerHead.id == 1).with_for_update()
    return session.execute(statement.execution_options(populate_existing=True)).scalar_one()


def append_entry(session: Session, kind: str, time: datetime, details: Mapping[str, Any]) -> AppendedEntry:
    """Append one entry in the session's transaction; it is part of the chain once that commits."""
    head = lock_head(session)
    entry = build_entry(kind, head.seq + 1, time, details)
    body = canonical_bytes(entry)
    digest = entry_hash(head.hash, body)
    session.add(LedgerEntry(seq=entry["seq"], body=body, hash=digest))
    session.add(EntryIndex(seq=entry["seq"], kind=kind, subject_ref=entry.get("subject"), time=entry["time"]))
    head.seq, head.hash = entry["seq"], digest
    session.flush()
    return AppendedEntry(entry["seq"], digest, entry)


def stored_hash(connection: Connection, seq: int) -> bytes | None:
    """The stored hash of entry `seq`, or None when there is no such entry."""
    return connection.execute(select(LedgerEntry.hash).where(LedgerEntry.seq == seq)).scalar()


def head(connection: Connection) -> tuple[int, bytes]:
    """(last sequence number, its hash) as the head row records them."""
    row = connection.execute(select(LedgerHead.seq, LedgerHead.hash).where(LedgerHead.id == 1)).one()
    return row.seq, row.hash


def last_seq(connection: Connection) -> int:
    """The largest seq in `ledger_entries` (0 when empty), whatever the head says."""
    return connection.execute(select(func.max(LedgerEntry.seq))).scalar() or 0


def stream_row_batches(
    connection: Connection, after: int = 0, upto: int = LAST_POSSIBLE_SEQ
) -> Iterator[Sequence[tuple[int, bytes, bytes]]]:
    """Batches of (seq, body, hash) of the entries after `after` up to `upto`, in order: flat memory."""
    # verify's hot path: plain driver tuples from a streaming cursor (a named, server-side one
    # on PostgreSQL) cost a fraction of SQLAlchemy rows, and verify's speed is held to raw SHA-256.
    driver = connection.connection.driver_connection
    sqlite = connection.dialect.name == "sqlite"
    cursor = driver.cursor() if sqlite else driver.cursor(name=f"ledger_rows_{id(connection)}")
    try:
        cursor.execute(ROWS_BETWEEN.format(p="?" if sqlite else "%s"), (after, upto))
        while batch := cursor.fetchmany(STREAM_BATCH):
            yield batch
    finally:
        cursor.close()


def stream_rows(connection: Connection, after: int = 0, upto: int = LAST_POSSIBLE_SEQ) -> Iterator[Row]:
    """(seq, body, hash) of the entries after `after` up to `upto`, in order."""
    for batch in stream_row_batches(connection, after, upto):
        yield from batch


def stream_hashes(connection: Connection, upto: int, after: int = 0) -> Iterator[bytes]:
    """The stored entry hashes of seq after+1..upto, in order (the Merkle tree's leaves)."""
    statement = select(LedgerEntry.hash).where(LedgerEntry.seq > after, LedgerEntry.seq <= upto).order_by(LedgerEntry.seq)
    with connection.execute(_streamed(statement)) as result:
        for partition in result.partitions():
            for row in partition:
                yield row[0]


def _streamed(statement: Select[Any]) -> Select[Any]:
    # Options on the statement, not the connection: a connection's options would stick to it.
    return statement.execution_options(stream_results=True, yield_per=STREAM_BATCH)


def rebuild_entry_index(session: Session) -> int:
    """Recreate `entry_index` from the entries' bodies; returns the number of rows written."""
    session.execute(delete(EntryIndex))
    count = 0
    for seq, body, _hash in stream_rows(session.connection()):
        entry = parse_entry(body)
        session.add(EntryIndex(seq=seq, kind=entry["kind"], subject_ref=entry.get("subject"), time=entry["time"]))
        count += 1
    session.flush()
    return count
