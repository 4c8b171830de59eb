"""Migrations: `db upgrade` builds the schema; every other command refuses an un-migrated database."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from database.engine import SchemaNotCurrent, require_current_schema, schema_revisions, upgrade

COMMANDS_NEEDING_SCHEMA = [("verify",), ("keys", "rotate"), ("checkpoint", "export", "cp.txt"), ("export", "out")]


def test_upgrade_creates_the_ledger_tables_and_is_repeatable(engine):
    """Running the migrations twice leaves one current schema."""
    upgrade(engine)
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"ledger_head", "ledger_entries", "personal_data", "blind_indexes", "tombstones", "erasure_intents"} <= tables
    assert "data_keys" not in tables  # the data keys live in the key store (KEYSTORE_URL)
    assert schema_revisions(engine)[0] == schema_revisions(engine)[1]
    require_current_schema(engine)


def test_unmigrated_database_is_refused_with_the_command_to_run(engine):
    with pytest.raises(SchemaNotCurrent, match="bookings-ledger db upgrade"):
        require_current_schema(engine)


@pytest.mark.parametrize("args", COMMANDS_NEEDING_SCHEMA)
def test_commands_refuse_an_unmigrated_database(cli, args, tmp_path, monkeypatch):
    """Exit 2 with one line naming `bookings-ledger db upgrade`, never a traceback."""
    monkeypatch.chdir(tmp_path)
    code, output = cli(*args)
    assert code == 2
    assert "bookings-ledger db upgrade" in output
    assert "Traceback" not in output


def test_commands_refuse_a_database_behind_the_code(cli, database_url):
    """A database at another revision than the code's head is refused too."""
    assert cli("db", "upgrade")[0] == 0
    from database.engine import create_ledger_engine

    engine = create_ledger_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    engine.dispose()
    code, output = cli("verify")
    assert code == 2
    assert "revision 0000" in output and "bookings-ledger db upgrade" in output


def test_db_upgrade_command_then_verify_succeeds(cli):
    code, output = cli("db", "upgrade")
    assert code == 0, output
    assert "revision" in output
    code, output = cli("verify")
    assert code == 0, output


def test_0007_keeps_the_mirror_rows_and_lets_an_erased_customer_lose_its_subject(engine):
    """Upgrading a database holding mirror rows from 0006: rows kept, retention_until gone,
    booking_customers.subject_ref nullable, retention_due indexed on due_at."""
    upgrade(engine, "0006")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO booking_appointments (appointment_id, business_id, start_at, end_at, state, subjects, digests,"
            " retention_until, updated_at) VALUES ('a-1', 'b', 's', 'e', 'active', '{}', '{}', 'r', 'u')"))
        connection.execute(text(
            "INSERT INTO booking_customers (business_id, customer_id, subject_ref, updated_at) VALUES ('b', 'c-1', 's-1', 'u')"))
    upgrade(engine, "0008_chain_content")
    schema = inspect(engine)
    assert "retention_until" not in {c["name"] for c in schema.get_columns("booking_appointments")}
    assert {i["name"] for i in schema.get_indexes("retention_due")} >= {"ix_retention_due_due_at"}
    with engine.begin() as connection:
        assert connection.execute(text("SELECT count(*) FROM booking_appointments")).scalar() == 1
        connection.execute(text("UPDATE booking_customers SET subject_ref = NULL, state = 'erased'"))
        assert connection.execute(text("SELECT subject_ref FROM booking_customers")).scalar() is None
