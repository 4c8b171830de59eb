"""Tamper tests through the CLI: the holes an auditor found in the append-only guard and in verify."""
from __future__ import annotations

import os
import secrets
import sqlite3

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from ledger.checkpoint_store import create_checkpoint
from tampering import GUARDED, without_triggers


@pytest.fixture
def checkpointed(cli, ledger, signer, clock, tmp_path):
    """Five entries and an exported checkpoint of them in `cp.txt` (its own entry is seq 6)."""
    with ledger.transaction() as tx:
        for number in range(5):
            tx.append("exported", number=number)
    code, output = cli("checkpoint", "export", str(tmp_path / "cp.txt"))
    assert code == 0, output
    return tmp_path / "cp.txt"


def test_checkpoint_verify_catches_a_body_only_change(cli, checkpointed, db):
    """A body rewritten behind the triggers, its stored hash kept, no longer matches the checkpoint."""
    assert cli("checkpoint", "verify", str(checkpointed)) == (0, "checkpoint of 5 entries matches the ledger\n")
    with without_triggers(db) as connection:
        body = connection.execute(text("SELECT body FROM ledger_entries WHERE seq = 3")).scalar_one()
        forged = body.replace(b'"number":2', b'"number":9')
        assert forged != body
        connection.execute(text("UPDATE ledger_entries SET body = :b WHERE seq = 3"), {"b": forged})
    code, output = cli("checkpoint", "verify", str(checkpointed))
    assert code == 1 and "first bad seq 3" in output and "modified body" in output


SQLITE_REWRITES = [
    "INSERT OR REPLACE INTO ledger_entries (seq, body, hash) VALUES (2, x'7b7d', x'00')",
    "REPLACE INTO ledger_entries (seq, body, hash) VALUES (2, x'7b7d', x'00')",
    "INSERT INTO ledger_entries (seq, body, hash) VALUES (2, x'7b7d', x'00') ON CONFLICT (seq) DO UPDATE SET body = excluded.body",
    "REPLACE INTO checkpoints (id, size, root, note, created_at) VALUES (1, 5, x'00', 'forged', 'x')",
    "UPDATE checkpoints SET root = x'00'",
    "DELETE FROM checkpoints",
]


@pytest.mark.parametrize("database_factory", ["sqlite"], indirect=True)
@pytest.mark.parametrize("statement", SQLITE_REWRITES)
def test_sqlite_refuses_replace_on_the_chain_and_any_change_to_checkpoints(cli, checkpointed, database_url, statement):
    """REPLACE deletes the old row without firing DELETE triggers; the BEFORE INSERT guard refuses it first."""
    connection = sqlite3.connect(make_url(database_url).database)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            connection.execute(statement)
    finally:
        connection.close()
    assert cli("verify")[0] == 0
    assert cli("checkpoint", "verify", str(checkpointed))[0] == 0


RUNTIME_REFUSED = [
    "UPDATE {table} SET {column} = {column}",
    "DELETE FROM {table}",
    "TRUNCATE {table}",
    "ALTER TABLE {table} DISABLE TRIGGER USER",
    "ALTER TABLE {table} DISABLE TRIGGER ALL",
]
COLUMNS = {"ledger_entries": "body", "checkpoints": "note"}
INSUFFICIENT_PRIVILEGE = "42501"  # the role lacks the privilege (or, for ALTER, is not the owner)


@pytest.fixture
def owner_and_runtime(database_factory):
    """A schema owned by a fresh owner role, and a fresh runtime role; their URLs. Both dropped after."""
    admin = create_engine(os.environ["TEST_DATABASE_URL"], poolclass=NullPool, isolation_level="AUTOCOMMIT")
    suffix = secrets.token_hex(4)
    owner, runtime, schema = f"owner_{suffix}", f"runtime_{suffix}", f"roles_{suffix}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE {owner} LOGIN"))
        connection.execute(text(f"CREATE ROLE {runtime} LOGIN"))
        connection.execute(text(f"CREATE SCHEMA {schema} AUTHORIZATION {owner}"))

    def url(role: str) -> str:
        base = make_url(os.environ["TEST_DATABASE_URL"]).set(username=role, password=None)
        return base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)

    try:
        yield url(owner), url(runtime)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            connection.execute(text(f"DROP ROLE {runtime}"))
            connection.execute(text(f"DROP ROLE {owner}"))
        admin.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_factory", ["postgresql"], indirect=True)
def test_postgresql_runtime_role_may_only_append_to_the_chain_and_checkpoints(
    cli, owner_and_runtime, monkeypatch, ledger_keys, keystore, signer, clock, tmp_path
):
    """`db upgrade` as the owner grants the runtime role INSERT and SELECT only: every rewrite is refused."""
    from database.engine import create_ledger_engine
    from ledger.transactions import Ledger

    owner_url, runtime_url = owner_and_runtime
    monkeypatch.setenv("DATABASE_URL", runtime_url)
    monkeypatch.setenv("DATABASE_OWNER_URL", owner_url)
    code, output = cli("db", "upgrade")
    assert code == 0 and "may only append" in output, output
    engine = create_ledger_engine(runtime_url, poolclass=NullPool)
    try:
        ledger = Ledger(engine, ledger_keys, clock, keystore=keystore)
        with ledger.transaction() as tx:  # INSERT through the ledger works, checkpoints too
            for number in range(3):
                tx.append("exported", number=number)
            create_checkpoint(tx.session, signer, clock())
        for table in GUARDED:
            for template in RUNTIME_REFUSED:
                statement = template.format(table=table, column=COLUMNS[table])
                with engine.connect() as connection, pytest.raises(DBAPIError) as refused:
                    connection.execute(text(statement))
                assert refused.value.orig.sqlstate == INSUFFICIENT_PRIVILEGE, (statement, refused.value.orig)
    finally:
        engine.dispose()
    assert cli("verify") == (0, "ledger intact: 4 entries, 1 checkpoints\n")


@pytest.mark.postgres
@pytest.mark.parametrize("database_factory", ["postgresql"], indirect=True)
def test_the_grants_in_docs_operations_are_the_ones_db_upgrade_runs(database_factory):
    """docs/operations.md shows the exact SQL: it is what grant_statements produces for its example."""
    from pathlib import Path

    from database.roles import grant_statements

    doc = (Path(__file__).parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    admin = create_engine(os.environ["TEST_DATABASE_URL"], poolclass=NullPool)
    try:
        with admin.connect() as connection:
            statements = grant_statements(connection, "ledger_app")
    finally:
        admin.dispose()
    assert "\n".join(f"{statement};" for statement in statements) in doc
