"""Fresh test databases on SQLite and PostgreSQL, and migrated copies of them (used by conftest.py
and by fixtures that build an app over a database of their own).

A PostgreSQL test database is a fresh schema (`search_path` set through the URL's `options`);
a key store, a whole database of its own. Both need TEST_DATABASE_URL; without it the PostgreSQL
cases skip with a reason, except under CI=true, where they fail: CI must never pass by skipping.
"""
from __future__ import annotations

import atexit
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

# A test database is thrown away: its commits need not wait for the WAL to reach the disk, which
# on this shared machine is most of a PostgreSQL test's time. Visibility and locking are unchanged.
NO_COMMIT_FLUSH = "-csynchronous_commit=off"


class MigratedTemplates:
    """One database per backend migrated once per test process, copied into each `db` fixture's.

    Running every migration takes 1.5 to 2.5 s a database on this machine, a copy a few
    milliseconds; a copy of a migrated database is the migrated database, so nothing is lost
    (the migration tests start from `engine`, an empty database, and run them for real).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._sqlite: Path | None = None
        self._postgresql_script: tuple[str, str] | None = None   # (the template schema's name, its dump)

    def copy_into(self, engine: Engine) -> None:
        """Make the empty database behind `engine` a copy of the migrated template."""
        if engine.dialect.name == "sqlite":
            self._copy_sqlite(engine)
        else:
            self._copy_postgresql(engine)

    def _copy_sqlite(self, engine: Engine) -> None:
        if self._sqlite is None:
            self._sqlite = self._migrated(f"sqlite:///{self.directory / 'template.db'}")
        template = sqlite3.connect(self._sqlite)
        try:
            with engine.connect() as connection:
                template.backup(connection.connection.driver_connection)
        finally:
            template.close()

    def _copy_postgresql(self, engine: Engine) -> None:
        if self._postgresql_script is None:
            self._postgresql_script = self._dumped_postgresql_template()
        template_schema, script = self._postgresql_script
        schema = _search_path(engine)
        with engine.connect() as connection:
            # The driver's own connection: without parameters psycopg reads no placeholders.
            driver = connection.connection.driver_connection
            driver.execute(script.replace(template_schema, schema))
            driver.commit()

    def _migrated(self, url: str) -> Path:
        from database.engine import create_ledger_engine, upgrade

        template = create_ledger_engine(url)
        upgrade(template)
        template.dispose()
        return Path(make_url(url).database or "")

    def _dumped_postgresql_template(self) -> tuple[str, str]:
        """Migrate a schema of its own, dump it as plain SQL (INSERTs, no owners) and drop it."""
        from database.engine import create_ledger_engine, upgrade

        factory = DatabaseFactory("postgresql", self.directory)
        try:
            url = factory.new_url()
            template = create_ledger_engine(url)
            upgrade(template)
            template.dispose()
            schema = _search_path_of_url(url)
            plain = make_url(_postgresql_url()).set(drivername="postgresql")
            dump = subprocess.run(
                ["pg_dump", "--schema", schema, "--inserts", "--no-owner", "--no-privileges",
                 "--dbname", plain.render_as_string(hide_password=False)],
                check=True, capture_output=True, text=True).stdout
        finally:
            factory.close()
        # The test's schema exists already; everything else is created inside it.
        lines = [line for line in dump.splitlines()
                 if not line.startswith(("CREATE SCHEMA", "ALTER SCHEMA", "\\"))
                 and "set_config('search_path'" not in line]
        return schema, "\n".join(lines)


def _search_path(engine: Engine) -> str:
    return _search_path_of_url(engine.url.render_as_string(hide_password=False))


def _search_path_of_url(url: str) -> str:
    match = re.search(r"search_path=(t_[0-9a-f]+)", make_url(url).query.get("options", ""))
    assert match, "a PostgreSQL test database is a schema named by the URL's search_path"
    return match.group(1)


class DatabaseFactory:
    """Hands out fresh, empty databases of one backend and removes them all at the end."""

    def __init__(self, backend: str, directory: Path) -> None:
        self.backend, self.directory = backend, directory
        self._schemas: list[str] = []
        self._databases: list[str] = []
        self._admin: Engine | None = None
        if backend == "postgresql":
            self._admin = create_engine(_postgresql_url(), poolclass=NullPool, isolation_level="AUTOCOMMIT")

    def new_url(self) -> str:
        """The URL of a new empty database."""
        name = f"t_{secrets.token_hex(6)}"
        if self._admin is None:
            return f"sqlite:///{self.directory / (name + '.db')}"
        with self._admin.connect() as connection:
            connection.execute(text(f"CREATE SCHEMA {name}"))
        self._schemas.append(name)
        url = make_url(_postgresql_url()).update_query_dict({"options": f"-csearch_path={name} {NO_COMMIT_FLUSH}"})
        return url.render_as_string(hide_password=False)

    def new_database_url(self) -> str:
        """The URL of a new empty database of its own (on PostgreSQL a separate database, not a schema)."""
        name = f"t_{secrets.token_hex(6)}"
        if self._admin is None:
            return f"sqlite:///{self.directory / (name + '.db')}"
        with self._admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        self._databases.append(name)
        url = make_url(_postgresql_url()).set(database=name).update_query_dict({"options": NO_COMMIT_FLUSH})
        return url.render_as_string(hide_password=False)

    def close(self) -> None:
        if self._admin is None:
            return
        with self._admin.connect() as connection:
            for name in self._schemas:
                connection.execute(text(f"DROP SCHEMA {name} CASCADE"))
            for name in self._databases:
                connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        self._admin.dispose()


def _postgresql_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but TEST_DATABASE_URL is not set: the PostgreSQL tests must run in CI")
    pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")


_templates: MigratedTemplates | None = None


def copy_migrated(engine: Engine) -> None:
    """Make the empty database behind `engine` a migrated one, from this process's templates."""
    global _templates
    if _templates is None:
        directory = Path(tempfile.mkdtemp(prefix="migrated-templates-"))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        _templates = MigratedTemplates(directory)
    _templates.copy_into(engine)
