"""Shared fixtures: databases on SQLite and PostgreSQL, and a clock the tests control.

Every database fixture is parametrized over both backends. PostgreSQL needs TEST_DATABASE_URL
(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test); without it the PostgreSQL cases skip
with a reason, except under CI=true, where they fail: CI must never pass by skipping them.
Each PostgreSQL database is a fresh schema (`search_path` set through the URL's `options`),
dropped afterwards, so concurrent runs and tests do not see each other. The key store is a
database of its own (a separate SQLite file; on PostgreSQL a whole database with a random name,
created and dropped by the same factory), as in production.

The tests marked `slow` run first: xdist hands out work in collection order, so a long test
collected late would keep one worker busy while the other has nothing left to do.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine

from fresh_databases import DatabaseFactory, copy_migrated

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first (a stable sort: every other test keeps its place relative to the rest)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime = datetime(2024, 2, 26, 9, 0, tzinfo=timezone.utc)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


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
    """An engine on a fresh database migrated to the current schema (a copy of a migrated template)."""
    copy_migrated(engine)
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
