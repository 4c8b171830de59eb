"""The durable inbox between Graph's notifications and the workers.

The web process only appends (`InboxWriter.accept`, duplicates dropped by a unique digest);
workers `claim` rows under a lease, then `finish` or `fail` them. A failing row is retried with
exponential backoff and parked with its reason after MAX_ATTEMPTS, so a poison notification is
never lost and never blocks the rows behind it.
"""
from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Engine, Integer, LargeBinary, String, func, select, true, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.times import format_time
from database.base import TIME, Base
from database.times import parse_time

MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=5)   # 5 s, 10 s, 20 s … about 10 minutes before parking
LEASE = timedelta(minutes=5)          # a worker that died releases its rows after this


class InboxRow(Base):
    """One notification item waiting for, being, or done being processed."""

    __tablename__ = "inbox"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    kind: Mapped[str] = mapped_column(String(16))          # change | lifecycle
    subscription_id: Mapped[str] = mapped_column(String(512))
    event: Mapped[str] = mapped_column(String(40))         # created/updated/deleted or the lifecycle event
    resource: Mapped[str] = mapped_column(String(2048))
    resource_id: Mapped[str | None] = mapped_column(String(512))
    received_at: Mapped[str] = mapped_column(TIME)
    state: Mapped[str] = mapped_column(String(16), index=True)   # pending | done | parked
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[str] = mapped_column(TIME, index=True)
    lease_until: Mapped[str | None] = mapped_column(TIME)
    last_error: Mapped[str | None] = mapped_column(String(512))
    processed_at: Mapped[str | None] = mapped_column(TIME, index=True)   # when it became done (0006)


@dataclass(frozen=True)
class InboxItem:
    """What the web process stores of one genuine notification: ids only, no personal data."""

    kind: str
    subscription_id: str
    event: str
    resource: str
    resource_id: str | None
    version: str | None   # Graph's etag or notification id: tells a real repeat from a new change

    def digest(self) -> bytes:
        """Identical deliveries (Graph's retries, duplicates) share a digest and are stored once."""
        fields = [self.kind, self.subscription_id, self.event, self.resource, self.resource_id, self.version]
        return hashlib.sha256(json.dumps(fields).encode()).digest()


_INSERT_COLUMNS = ("digest", "kind", "subscription_id", "event", "resource", "resource_id", "received_at",
                   "not_before", "state", "attempts")
_PLACEHOLDER = {"sqlite": "?", "postgresql": "%s"}
_ROWS_PER_STATEMENT = 500   # 4,000 parameters: well inside both drivers' limits


class InboxWriter:
    """Stores notification items on one autocommit driver connection of its own, one caller at a time.

    This runs inside Graph's time limit on every notification, so it skips SQLAlchemy: one
    multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING digest` is one round trip and its own
    transaction, where BEGIN, an insert per item and COMMIT cost three or more (bench/webhook_ack.py).
    A batch of more than one statement is wrapped in BEGIN … COMMIT, so a batch is stored whole
    or not at all. The connection is detached from the engine's pool, so its autocommit mode
    never leaks to other users. The receiver's writer thread is its only caller.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._placeholder = _PLACEHOLDER[engine.dialect.name]
        # SQLite takes its write lock at BEGIN IMMEDIATE, not half-way through the batch.
        self._begin = "BEGIN IMMEDIATE" if engine.dialect.name == "sqlite" else "BEGIN"
        # The connection kept between calls sits in a list the finalizer can see without keeping
        # the writer alive: an app dropped without close() still closes its connection.
        self._held: list[Any] = []
        weakref.finalize(self, _close_all, self._held)

    def accept(self, items: Sequence[InboxItem], now: datetime) -> list[bool]:
        """Store the items not already in the inbox; for each item, was it new?

        All or nothing: on an error nothing of the batch is stored (closing the connection
        rolls back an open transaction), and the caller answers 5xx for every item of it.
        """
        received = format_time(now)
        digests = [item.digest() for item in items]
        connection = self._held.pop() if self._held else self._connect()
        several = len(items) > _ROWS_PER_STATEMENT
        try:
            stored: set[bytes] = set()
            if several:
                self._execute(connection, self._begin)
            for first in range(0, len(items), _ROWS_PER_STATEMENT):
                chunk = range(first, min(first + _ROWS_PER_STATEMENT, len(items)))
                stored.update(self._insert(connection, [(digests[i], items[i]) for i in chunk], received))
            if several:
                self._execute(connection, "COMMIT")
        except BaseException:
            connection.close()  # a broken connection is not reused; the next call opens a fresh one
            raise
        self._held.append(connection)
        flags = []
        for digest in digests:  # a digest twice in one batch is new only the first time
            flags.append(digest in stored)
            stored.discard(digest)
        return flags

    def close(self) -> None:
        """Close the writer's connection."""
        _close_all(self._held)

    def _connect(self) -> Any:
        connection = self._engine.raw_connection()
        driver = connection.driver_connection
        connection.detach()
        if self._engine.dialect.name != "sqlite":  # SQLite's connections already are (ledger/db.py)
            driver.rollback()  # whatever the dialect's first-connect queries left open
            driver.autocommit = True
        return connection

    @staticmethod
    def _execute(connection: Any, sql: str) -> None:
        cursor = connection.cursor()
        try:
            cursor.execute(sql)
        finally:
            cursor.close()

    def _insert(self, connection: Any, rows: list[tuple[bytes, InboxItem]], received: str) -> list[bytes]:
        row = "(" + ", ".join([self._placeholder] * 8) + ", 'pending', 0)"
        sql = (f"INSERT INTO inbox ({', '.join(_INSERT_COLUMNS)}) VALUES {', '.join([row] * len(rows))} "
               "ON CONFLICT (digest) DO NOTHING RETURNING digest")
        params = [value for digest, item in rows for value in (
            digest, item.kind, item.subscription_id, item.event, item.resource, item.resource_id, received, received)]
        cursor = connection.cursor()
        try:
            cursor.execute(sql, params)
            return [bytes(digest) for (digest,) in cursor.fetchall()]
        finally:
            cursor.close()


def _close_all(connections: list[Any]) -> None:
    while connections:
        connections.pop().close()


def accept(engine: Engine, items: Sequence[InboxItem], now: datetime) -> list[bool]:
    """`InboxWriter.accept` on a connection of its own, for callers outside the receiver."""
    writer = InboxWriter(engine)
    try:
        return writer.accept(items, now)
    finally:
        writer.close()


def claim(session: Session, now: datetime, limit: int, *, kinds: Collection[str] | None = None) -> list[InboxRow]:
    """Lease up to `limit` due rows (of `kinds`, default all) to this worker; PostgreSQL lets other workers skip them."""
    stamp = format_time(now)
    query = (
        select(InboxRow)
        .where(InboxRow.state == "pending", InboxRow.not_before <= stamp)
        .where((InboxRow.lease_until.is_(None)) | (InboxRow.lease_until < stamp))
        .where(InboxRow.kind.in_(kinds) if kinds is not None else true())
        .order_by(InboxRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(session.scalars(query))
    for row in rows:
        row.lease_until = format_time(now + LEASE)
    return rows


def finish(session: Session, row: InboxRow, now: datetime) -> None:
    """The row's work is committed: done, at `now` (processing latency counts from arrival)."""
    row.state, row.lease_until, row.processed_at = "done", None, format_time(now)


def fail(session: Session, row: InboxRow, now: datetime, reason: str) -> None:
    """Retry later with backoff, or park the row with its reason after MAX_ATTEMPTS."""
    row.attempts += 1
    row.lease_until = None
    row.last_error = reason[:512]
    if row.attempts >= MAX_ATTEMPTS:
        row.state = "parked"
    else:
        row.not_before = format_time(now + BACKOFF_BASE * 2 ** (row.attempts - 1))


@dataclass(frozen=True)
class ClaimedRow:
    """What a worker needs of a claimed row (a plain copy: the claiming session is closed)."""

    id: int
    kind: str
    subscription_id: str
    event: str
    resource_id: str | None
    received_at: str


@dataclass(frozen=True)
class FailedRow:
    """A row after `fail_rows`: how many attempts it has had, and whether it is now parked."""

    id: int
    attempts: int
    parked: bool


def claim_rows(engine: Engine, now: datetime, limit: int, *, kinds: Collection[str] | None = None) -> list[ClaimedRow]:
    """`claim` in a transaction of its own; the claimed rows as plain copies."""
    with Session(engine) as session, session.begin():
        return [ClaimedRow(r.id, r.kind, r.subscription_id, r.event, r.resource_id, r.received_at)
                for r in claim(session, now, limit, kinds=kinds)]


def finish_rows(bind: Engine | Session, row_ids: Iterable[int], now: datetime) -> None:
    """Mark rows done (see `finish`): in the caller's transaction when given a session (the one
    that commits the rows' work), else in a transaction of its own."""
    _update_rows(bind, row_ids, state="done", lease_until=None, processed_at=format_time(now))


def fail_rows(engine: Engine, row_ids: Iterable[int], now: datetime, reason: str) -> list[FailedRow]:
    """`fail` each row still there, in a transaction of its own; what became of each."""
    failed = []
    with Session(engine) as session, session.begin():
        for row_id in row_ids:
            row = session.get(InboxRow, row_id)
            if row is not None:
                fail(session, row, now, reason)
                failed.append(FailedRow(row.id, row.attempts, row.state == "parked"))
    return failed


def defer_rows(engine: Engine, until: Mapping[int, datetime]) -> None:
    """Give rows back, each until its time, without counting an attempt: their work is someone else's turn."""
    by_time: dict[str, list[int]] = {}
    for row_id, moment in until.items():
        by_time.setdefault(format_time(moment), []).append(row_id)
    with Session(engine) as session, session.begin():
        for stamp, row_ids in by_time.items():
            _update_rows(session, row_ids, lease_until=None, not_before=stamp)


def _update_rows(bind: Engine | Session, row_ids: Iterable[int], **values: str | None) -> None:
    # One UPDATE per chunk rather than a load and a flush per row: a burst acknowledges
    # hundreds of rows a cycle.
    ids = list(row_ids)
    if isinstance(bind, Engine):
        with Session(bind) as session, session.begin():
            _update_rows(session, ids, **values)
        return
    for first in range(0, len(ids), _ROWS_PER_STATEMENT):
        bind.execute(update(InboxRow).where(InboxRow.id.in_(ids[first:first + _ROWS_PER_STATEMENT])).values(**values),
                     execution_options={"synchronize_session": False})


def depth(engine: Engine) -> tuple[int, str | None]:
    """How many rows wait, and when the oldest of them arrived."""
    with engine.connect() as connection:
        count, oldest = connection.execute(
            select(func.count(), func.min(InboxRow.received_at)).where(InboxRow.state == "pending")
        ).one()
    return count, oldest


def last_received(engine: Engine) -> str | None:
    """When the latest notification still in the inbox arrived (any state; None when it is empty)."""
    # The newest id, not max(received_at): ids are handed out as rows arrive, and the primary key
    # answers this without reading a week of rows.
    with engine.connect() as connection:
        return connection.execute(select(InboxRow.received_at).order_by(InboxRow.id.desc()).limit(1)).scalar()


def recent_latencies(engine: Engine, now: datetime, window: timedelta, limit: int) -> list[float]:
    """Seconds from arrival to done of the latest `limit` rows done within `window` before `now`.

    The index on processed_at makes this a short range scan, cheap enough for every scrape;
    times are ledger text, so the subtraction happens here rather than in dialect-specific SQL.
    """
    query = (
        select(InboxRow.received_at, InboxRow.processed_at)
        .where(InboxRow.processed_at >= format_time(now - window))
        .order_by(InboxRow.processed_at.desc())
        .limit(limit)
    )
    with engine.connect() as connection:
        pairs = connection.execute(query).all()
    return [(parse_time(done) - parse_time(received)).total_seconds() for received, done in pairs]
