"""The key store: data keys per subject and data category, in a database that is not the main one.

A backup of the main database therefore never holds a key, and erasure is final once the key
store has forgotten the key: `destroy_subject` / `destroy_category` delete the wrapped keys and
then scrub the live files before they return (see `_scrub`):

    SQLite      secure_delete=ON (deleted cells and free pages are zeroed), journal_size_limit=0
                (a WAL that is reset shrinks to nothing, no stale frames left behind), and
                `wal_checkpoint(TRUNCATE)` after each destruction (the zeroed pages reach the
                .db file and the -wal is cut to zero bytes).
    PostgreSQL  VACUUM then VACUUM FULL of the key table right after the DELETE commits: the
                table is rewritten into a new file holding live rows only, and the old file is
                truncated at commit. (A plain VACUUM compacts a page but leaves the bytes of a
                tuple that sat in its free end; VACUUM FULL on its own, right after the DELETE,
                was measured copying the dead row into the new file on PostgreSQL 15.)

`KeyStore` is the interface a key vault could implement later; `SqlKeyStore` is the SQL one.
Keys are wrapped by the master key (ledger/encryption.py); errors name ids, never key bytes.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from sqlalchemy import Column, Engine, LargeBinary, MetaData, String, Table, delete, event, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from database.base import NAME, REF, TIME
from database.engine import create_ledger_engine
from database.times import format_time
from ledger import encryption

SQLITE_JOURNAL_SIZE_LIMIT = 0  # bytes a reset WAL keeps: none, so no old frame outlives a checkpoint

metadata = MetaData()
data_keys = Table(
    "data_keys", metadata,
    Column("subject_ref", REF, primary_key=True),
    Column("category", NAME, primary_key=True),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("master_key_id", String(16), nullable=False, index=True),
    Column("created_at", TIME, nullable=False),
)


class KeyStoreError(encryption.VaultError):
    """The key store could not complete an operation (for example a checkpoint kept busy)."""


@dataclass(frozen=True)
class DestroyedKeys:
    """What a destruction removed (categories, master key ids), no key bytes."""

    categories: list[str]
    master_key_ids: list[str]


class KeyStore(Protocol):
    """Where data keys live; a key vault can implement the same operations."""

    backup_retention: timedelta

    def keys_for(self, subject_ref: str, categories: Iterable[str]) -> dict[str, bytes]:
        """The subject's data key of each category, created where missing."""

    def existing_keys(self, subject_ref: str) -> dict[str, bytes]:
        """The subject's data keys that exist, by category (none created)."""

    def destroy_subject(self, subject_ref: str) -> DestroyedKeys:
        """Delete every key of the subject and scrub the live files before returning."""

    def destroy_category(self, subject_ref: str, category: str) -> DestroyedKeys:
        """Delete the subject's key of one category and scrub the live files before returning."""

    def rewrap(self, batch: int) -> int:
        """Re-wrap up to `batch` keys held under a previous master key; how many were."""

    def count_unknown(self) -> int:
        """Keys wrapped by master keys that this store was not given."""

    def close(self) -> None:
        """Release what the store holds open."""


class SqlKeyStore:
    """The key store on SQLite or PostgreSQL (KEYSTORE_URL); its one table is created on open."""

    def __init__(self, engine: Engine, master: encryption.MasterKeys, *, backup_retention: timedelta = timedelta(0),
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.engine, self.master, self.backup_retention, self.clock = engine, master, backup_retention, clock
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                # Processes starting together (systemd starts every unit at once) would each see
                # no table and race to create it; PostgreSQL's DDL is transactional, so one lock
                # makes the others wait and then find the table.
                connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('bookings-ledger key store'))"))
            metadata.create_all(connection)

    def keys_for(self, subject_ref: str, categories: Iterable[str]) -> dict[str, bytes]:
        """The subject's data key of each category, created (and committed) where missing."""
        wanted = set(categories)
        keys = {category: key for category, key in self.existing_keys(subject_ref).items() if category in wanted}
        for category in sorted(wanted - set(keys)):
            keys[category] = self._create(subject_ref, category)
        return keys

    def existing_keys(self, subject_ref: str) -> dict[str, bytes]:
        """The subject's data keys, unwrapped, by category."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(data_keys).where(data_keys.c.subject_ref == subject_ref)).all()
        return {row.category: self._unwrap(row) for row in rows}

    def destroy_subject(self, subject_ref: str) -> DestroyedKeys:
        """Delete every key of the subject, then scrub the live files."""
        return self._destroy(data_keys.c.subject_ref == subject_ref)

    def destroy_category(self, subject_ref: str, category: str) -> DestroyedKeys:
        """Delete the subject's key of `category`, then scrub the live files."""
        return self._destroy((data_keys.c.subject_ref == subject_ref) & (data_keys.c.category == category))

    def rewrap(self, batch: int) -> int:
        """Re-wrap up to `batch` keys under a previous master key with the current one, in one commit."""
        old_ids = [key_id for key_id in self.master.by_id if key_id != self.master.current_id]
        with self.engine.begin() as connection:
            rows = connection.execute(select(data_keys).where(data_keys.c.master_key_id.in_(old_ids)).limit(batch)).all()
            for row in rows:
                wrapped = encryption.wrap_data_key(self.master.current, self._unwrap(row), row.subject_ref, row.category)
                connection.execute(update(data_keys).where(
                    data_keys.c.subject_ref == row.subject_ref, data_keys.c.category == row.category,
                ).values(wrapped_key=wrapped, master_key_id=self.master.current_id))
        if rows:
            # The old wrapping is as good as the key under a previous master key: scrub it too.
            self._scrub()
        return len(rows)

    def close(self) -> None:
        """Release the key store's connections."""
        self.engine.dispose()

    def count_unknown(self) -> int:
        """Keys wrapped by master keys that the settings do not hold."""
        with self.engine.connect() as connection:
            return connection.scalar(
                select(func.count()).select_from(data_keys).where(data_keys.c.master_key_id.not_in(list(self.master.by_id)))
            ) or 0

    def _create(self, subject_ref: str, category: str) -> bytes:
        key = encryption.new_data_key()
        wrapped = encryption.wrap_data_key(self.master.current, key, subject_ref, category)
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(data_keys).values(
                    subject_ref=subject_ref, category=category, wrapped_key=wrapped,
                    master_key_id=self.master.current_id, created_at=format_time(self.clock()),
                ))
        except IntegrityError:
            # Another process created this key first: use theirs, so one category has one key.
            return self.existing_keys(subject_ref)[category]
        return key

    def _unwrap(self, row: Any) -> bytes:
        return encryption.unwrap_data_key(self.master.get(row.master_key_id), row.wrapped_key, row.subject_ref, row.category)

    def _destroy(self, where: Any) -> DestroyedKeys:
        with self.engine.begin() as connection:
            rows = connection.execute(delete(data_keys).where(where).returning(data_keys.c.category, data_keys.c.master_key_id)).all()
        self._scrub()
        return DestroyedKeys(sorted({row.category for row in rows}), sorted({row.master_key_id for row in rows}))

    def _scrub(self) -> None:
        """Leave no copy of a deleted key in the live files (see the module docstring)."""
        if self.engine.dialect.name == "sqlite":
            with self.engine.connect() as connection:
                # The driver runs in autocommit (database.engine): the PRAGMA runs outside a transaction.
                busy, _log, _done = connection.connection.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy:
                raise KeyStoreError("the key store's WAL checkpoint stayed busy; the erasure is retried on the next run")
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(f"VACUUM {data_keys.name}")
            connection.exec_driver_sql(f"VACUUM FULL {data_keys.name}")


def open_keystore(url: str, master: encryption.MasterKeys, *, backup_retention: timedelta = timedelta(0),
                  clock: Callable[[], datetime] | None = None) -> SqlKeyStore:
    """The key store at KEYSTORE_URL; SQLite files get secure deletion and a bounded WAL."""
    engine = create_ledger_engine(url, hide_parameters=True)
    if engine.dialect.name == "sqlite":
        _create_private_file(engine.url.database)
        event.listen(engine, "connect", _configure_secure_deletion)
    options = {"clock": clock} if clock else {}
    return SqlKeyStore(engine, master, backup_retention=backup_retention, **options)


def keystore_from_settings(settings: Any, master: encryption.MasterKeys,
                           clock: Callable[[], datetime] | None = None) -> SqlKeyStore:
    """The key store KEYSTORE_URL names, with the backup retention KEYSTORE_BACKUP_RETENTION_DAYS states."""
    retention = timedelta(days=settings.KEYSTORE_BACKUP_RETENTION_DAYS)
    return open_keystore(settings.KEYSTORE_URL, master, backup_retention=retention, clock=clock)


def _create_private_file(path: str | None) -> None:
    # Created 0600 before SQLite opens it (its -wal and -shm take the same mode): keys are for this user only.
    if path and path != ":memory:":
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def _configure_secure_deletion(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA secure_delete=ON")
    dbapi_connection.execute(f"PRAGMA journal_size_limit={SQLITE_JOURNAL_SIZE_LIMIT}")
