"""Shared fixtures: databases on SQLite and PostgreSQL, and a clock the tests control.

Every database fixture is parametrized over both backends. PostgreSQL needs TEST_DATABASE_URL
(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test); without it the PostgreSQL cases skip
with a reason, except under CI=true, where they fail: CI must never pass by skipping them.
Each PostgreSQL database is a fresh schema (`search_path` set through the URL's `options`),
dropped afterwards, so concurrent runs and tests do not see each other. The key store is a
database of its own (a separate SQLite file; on PostgreSQL a whole database with a random name,
created and dropped by the same factory), as in production.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
# A test database is thrown away: its commits need not wait for the WAL to reach the disk, which
# on this shared machine is most of a PostgreSQL test's time. Visibility and locking are unchanged.
NO_COMMIT_FLUSH = "-csynchronous_commit=off"


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime = datetime(2024, 2, 26, 9, 0, tzinfo=timezone.utc)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


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


@pytest.fixture(params=BACKENDS)
def database_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatabaseFactory]:
    """Fresh empty databases of the parametrized backend, on demand."""
    factory = DatabaseFactory(request.param, tmp_path)
    yield factory
    factory.close()


@pytest.fixture
def database_url(database_factory: DatabaseFactory) -> str:
    """The URL of one fresh, empty (un-migrated) database."""
    return database_factory.new_url()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a fresh, empty database (no migrations applied)."""
    from database.engine import create_ledger_engine

    engine = create_ledger_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine: Engine) -> Engine:
    """An engine on a fresh database migrated to the current schema."""
    from database.engine import upgrade

    upgrade(engine)
    return engine


@pytest.fixture
def keystore_url(database_factory: DatabaseFactory) -> str:
    """The URL of a fresh key-store database of the same backend, apart from the main one."""
    return database_factory.new_database_url()


@pytest.fixture
def clock() -> FakeClock:
    """A controllable UTC clock, starting 2024-02-26 09:00."""
    return FakeClock()


@pytest.fixture
def make_clock() -> Callable[[], FakeClock]:
    """A factory of independent clocks, for tests that need several."""
    return FakeClock
