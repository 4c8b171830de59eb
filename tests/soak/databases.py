"""The soak's two databases: the ledger's and the key store's, each a PostgreSQL database of its
own with a random name, dropped afterwards (SQLite files only where no PostgreSQL is given and not
under CI, where the soak must run on PostgreSQL)."""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@contextmanager
def soak_databases(work_dir: Path) -> Iterator[tuple[str, str]]:
    """(DATABASE_URL, KEYSTORE_URL) for one run."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        if os.environ.get("CI") == "true":
            raise RuntimeError("CI=true: the soak runs on PostgreSQL; set TEST_DATABASE_URL")
        yield f"sqlite:///{work_dir / 'ledger.db'}", f"sqlite:///{work_dir / 'keys.db'}"
        return
    names = [f"soak_{secrets.token_hex(6)}", f"soak_keys_{secrets.token_hex(6)}"]
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        base = make_url(server)
        yield tuple(base.set(database=name).render_as_string(hide_password=False) for name in names)  # type: ignore[misc]
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
