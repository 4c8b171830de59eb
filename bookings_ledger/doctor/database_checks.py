"""The main database (reachable, migrated, the runtime role's grants) and the key store apart from it.

Nothing here creates a file or a table: a SQLite database that does not exist is reported, not
made (create_ledger_engine would make it), so the doctor never changes what it examines.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from .context import Findings
from .report import Line, fail, ok, skipped

UPGRADE = "bookings-ledger db upgrade"
# A role must not be able to do these to the evidence (database/roles.py).
REWRITES = ("UPDATE", "DELETE", "TRUNCATE")


def check(findings: Findings) -> Iterator[Line]:
    settings = findings.settings
    if settings is None:
        yield skipped("database", "settings")
        return
    yield from _main_database(findings, settings.DATABASE_URL)
    yield from _key_store(settings.KEYSTORE_URL, settings.DATABASE_URL)


def _main_database(findings: Findings, url: str) -> Iterator[Line]:
    from database.engine import SchemaNotCurrent, create_ledger_engine, require_current_schema

    missing = _missing_sqlite_file(url)
    if missing:
        findings.database_problem = "the database"
        yield fail("database reachable", f"the SQLite file {missing} does not exist", f"run `{UPGRADE}`")
        yield skipped("database migrated", "the database")
        return
    engine = create_ledger_engine(url, poolclass=NullPool)
    problem = _unreachable(engine)
    if problem:
        engine.dispose()
        findings.database_problem = "the database"
        yield fail("database reachable", f"cannot connect to DATABASE_URL ({problem})",
                   "check DATABASE_URL (host, port, database, role, password) and that the server runs")
        yield skipped("database migrated", "the database")
        return
    yield ok("database reachable", f"{engine.dialect.name} at DATABASE_URL")
    try:
        require_current_schema(engine)
    except SchemaNotCurrent as exc:
        engine.dispose()
        findings.database_problem = "a migrated database"
        yield fail("database migrated", str(exc), f"run `{UPGRADE}` (as the schema owner, DATABASE_OWNER_URL)")
        return
    yield ok("database migrated", "at the code's schema revision")
    findings.engine = engine
    yield _grants_line(engine)


def _missing_sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def _unreachable(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        # The driver's first line (e.g. "connection refused"): never the URL's password, never a row.
        reason = str(getattr(exc, "orig", None) or type(exc).__name__).strip().splitlines()
        return reason[0] if reason else type(exc).__name__
    return None


def _grants_line(engine: Engine) -> Line:
    from database.roles import APPEND_ONLY

    check = "runtime role grants"
    if engine.dialect.name != "postgresql":
        return ok(check, "SQLite has no roles: whoever can write the file can rewrite it (see the file modes)")
    with engine.connect() as connection:
        role = connection.execute(text("SELECT current_user")).scalar_one()
        superuser = connection.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar_one()
        allowed = [f"{privilege} {table}" for table in APPEND_ONLY for privilege in (*REWRITES, "owner")
                   if _may(connection, table, privilege)]
    if superuser or allowed:
        found = "is a superuser" if superuser else f"may {', '.join(allowed)}"
        return fail(check, f"role {role} of DATABASE_URL {found}: it could rewrite the evidence",
                    f"let another role own the schema, set DATABASE_OWNER_URL to it and run `{UPGRADE}`, which "
                    "grants DATABASE_URL's role append-only access (docs/operations.md)")
    return ok(check, f"role {role} may only append to {' and '.join(APPEND_ONLY)}")


def _may(connection: Connection, table: str, privilege: str) -> bool:
    if privilege == "owner":  # an owner can ALTER the table and disable its guard triggers
        statement = "SELECT pg_get_userbyid(relowner) = current_user FROM pg_class WHERE oid = to_regclass(:table)"
        return bool(connection.execute(text(statement), {"table": table}).scalar())
    statement = "SELECT has_table_privilege(current_user, to_regclass(:table), :privilege)"
    return bool(connection.execute(text(statement), {"table": table, "privilege": privilege}).scalar())


def _key_store(url: str, database_url: str) -> Iterator[Line]:
    check = "key store"
    keys, main = make_url(url), make_url(database_url)
    if _same_database(keys, main):
        yield fail(check, "KEYSTORE_URL names the main database (another schema is not enough)",
                   "give the key store a database of its own, so a backup of DATABASE_URL never holds a key")
        return
    missing = _missing_sqlite_file(url)
    if missing:
        yield fail(check, f"the SQLite file {missing} does not exist",
                   "start the worker once (it creates the key store) or restore it from its own backup")
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        problem = _unreachable(engine)
    finally:
        engine.dispose()
    if problem:
        yield fail(check, f"cannot connect to KEYSTORE_URL ({problem})", "check KEYSTORE_URL and that the server runs")
        return
    yield ok(check, f"{keys.get_backend_name()}, reachable, a database apart from DATABASE_URL")


def _same_database(first: URL, second: URL) -> bool:
    if first.get_backend_name() != second.get_backend_name():
        return False
    if first.get_backend_name() == "sqlite":
        return bool(first.database) and Path(first.database).resolve() == Path(second.database or "").resolve()
    return (first.host, first.port, first.database) == (second.host, second.port, second.database)
