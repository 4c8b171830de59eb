"""The database files the service creates are private to its user, and errors never show values."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from database.engine import create_ledger_engine, upgrade

SECRET = "ada.lovelace@example.com"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask():
    """A umask that would leave new files world-readable (0644), as most shells have."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_new_database_its_wal_and_shm_and_var_are_private(tmp_path, loose_umask):
    database = tmp_path / "var" / "nested" / "ledger.db"
    engine = create_ledger_engine(f"sqlite:///{database}")
    upgrade(engine)
    with engine.begin() as connection:  # a write, so the -wal and -shm are in use
        connection.execute(text("INSERT INTO tombstones VALUES ('appointment', 'AAMk-1', '2024-01-01T00:00:00.000000Z')"))
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    engine.dispose()
    assert _mode(tmp_path / "var") == _mode(tmp_path / "var" / "nested") == 0o700


def test_an_existing_directory_is_left_alone_and_an_old_readable_database_is_narrowed(tmp_path, loose_umask):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    database = shared / "ledger.db"
    database.touch(mode=0o644)
    create_ledger_engine(f"sqlite:///{database}").dispose()
    assert (_mode(shared), _mode(database)) == (0o755, 0o600)


def test_a_failing_insert_never_shows_its_values(db):
    """The bound parameters of a refused INSERT stay out of the error (and so out of any log)."""
    with pytest.raises(IntegrityError) as refused, db.begin() as connection:
        connection.execute(text("INSERT INTO tombstones (object_type, object_id) VALUES ('customer', :id)"), {"id": SECRET})
    assert "parameters hidden" in str(refused.value)
    if db.dialect.name == "sqlite":  # PostgreSQL's own DETAIL quotes the row: see the log tests
        assert SECRET not in str(refused.value)


def test_the_demo_key_file_and_its_directory_are_private(tmp_path, loose_umask):
    from bookings_ledger.demo import demo_keys

    path = tmp_path / "var" / "demo-keys.env"
    assert "LEDGER_MASTER_KEY" in demo_keys(path)
    assert (_mode(path.parent), _mode(path)) == (0o700, 0o600)
