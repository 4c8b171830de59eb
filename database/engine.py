"""Engines for the ledger database, the SQLite settings the ledger relies on, and the schema gate.

SQLite runs in WAL mode with a busy timeout and foreign keys on. Every SQLite transaction starts
with `BEGIN IMMEDIATE` unless a read-only connection asks otherwise (see `read_only`): the
ledger's sequence numbers are assigned under the database's write lock (see `entries.py`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from config import SettingsError
from database.files import prepare_sqlite_file

SQLITE_BEGIN_OPTION = "sqlite_begin"
SQLITE_BUSY_TIMEOUT_MS = 30_000  # long enough for a burst of writers to take turns
UPGRADE_COMMAND = "bookings-ledger db upgrade"


class SchemaNotCurrent(SettingsError):
    """The database is not migrated to the code's schema; the message names the command to run.

    A SettingsError, so every command reports it on one line and exits 2, like a bad setting.
    """


def create_ledger_engine(url: str, **options: Any) -> Engine:
    """An engine for DATABASE_URL that never shows bound parameters in errors; SQLite gets a private
    file (database.files), WAL, a busy timeout, foreign keys and BEGIN IMMEDIATE."""
    # Bound parameters are personal data (emails in an INSERT): an error must never print them.
    options = {**options, "hide_parameters": True}
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, **options)
    if parsed.database and parsed.database != ":memory:" and not parsed.query.get("uri"):
        prepare_sqlite_file(Path(parsed.database))
    engine = create_engine(url, **options)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling would issue a deferred BEGIN behind our back;
    # turning it off lets `_begin_sqlite_transaction` choose the kind of BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    # IMMEDIATE takes the write lock at BEGIN, so two writers queue on the busy timeout instead
    # of one failing with SQLITE_BUSY when it upgrades a read lock in the middle of a transaction.
    mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {mode}")


@contextmanager
def read_only(engine: Engine) -> Iterator[Connection]:
    """A connection in one read-only snapshot transaction that takes no write lock."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection = connection.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})
        else:
            # One snapshot for the whole read: an append committing meanwhile stays invisible.
            connection = connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with connection.begin():
            yield connection


# A migration step that needs the ledger's code and keys, which `database/` may not import: the
# composition root hands them in by name (bookings_ledger/migration_steps.py), and a migration
# with data to convert and no step for it stops, naming the command to run.
DataStep = Callable[[Connection], None]


def upgrade(engine: Engine, revision: str = "head", *, data_steps: Mapping[str, DataStep] | None = None) -> None:
    """Apply the Alembic migrations shipped in `database/migrations` up to `revision`, with the named
    `data_steps` the migrations may ask for; a migration that asks for it is followed by a VACUUM
    once committed."""
    from alembic import command

    with engine.begin() as connection:
        config = _alembic_config(connection)
        config.attributes["data_steps"] = dict(data_steps or {})
        command.upgrade(config, revision)
    if config.attributes.get("vacuum_after"):
        vacuum(engine)


def vacuum(engine: Engine) -> None:
    """Rebuild the database's files so deleted rows leave them (SQLite: VACUUM and a truncated WAL)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            # The driver runs in autocommit (see _configure_sqlite_connection): VACUUM needs no open transaction.
            driver = connection.connection.driver_connection
            driver.execute("VACUUM")
            driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM")


def schema_revisions(engine: Engine) -> tuple[str | None, str]:
    """(the database's current revision or None, the code's head revision)."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with read_only(engine) as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    head = ScriptDirectory.from_config(_alembic_config(None)).get_current_head()
    assert head is not None, "database/migrations has no revisions"
    return current, head


def require_current_schema(engine: Engine) -> None:
    """Raise SchemaNotCurrent unless the database is migrated to exactly the code's head."""
    current, head = schema_revisions(engine)
    if current != head:
        state = "not migrated" if current is None else f"at revision {current}, the code needs {head}"
        raise SchemaNotCurrent(f"the database is {state}; run `{UPGRADE_COMMAND}` first")


def _alembic_config(connection: Connection | None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "database:migrations")
    config.attributes["connection"] = connection
    return config


def open_migrated(url: str) -> Engine:
    """An engine for a database that must already be at the code's schema (SchemaNotCurrent if not)."""
    engine = create_ledger_engine(url)
    try:
        require_current_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine
