"""`doctor` on the local set-up: a broken setting, an unreachable database and an un-migrated
schema each give one clear FAIL (what depends on them is skipped, never a traceback); file modes;
the checkpoint keys; the last verify; the public URL."""
from __future__ import annotations

import base64
import os
import secrets

import pytest

from doctor_helpers import private_sqlite


def only_failure(checklist) -> dict[str, str]:
    """The one FAIL line, after checking there is exactly one and no traceback."""
    assert checklist.code == 1 and "Traceback" not in checklist.output, checklist.output
    failed = checklist.failed()
    assert len(failed) == 1, failed
    return failed[0]


def test_a_broken_setting_is_one_line_and_the_rest_is_skipped(environment, doctor, monkeypatch):
    """An invalid DATABASE_URL: one FAIL naming it with a valid example; every other check says it needs settings."""
    monkeypatch.setenv("DATABASE_URL", "mysql://ledger@db/ledger")
    checklist = doctor()
    line = only_failure(checklist)
    assert line["check"] == "settings" and "DATABASE_URL" in line["found"] and "postgresql+psycopg://" in line["found"]
    assert "mysql" not in line["found"]  # the value is never repeated: it could be a secret
    others = [other for other in checklist.checks if other is not line]
    assert others and all(other["found"] == "skipped: needs settings" for other in others)


def test_an_unreachable_database_is_one_line(environment, doctor, monkeypatch):
    """A PostgreSQL server that is not there: one FAIL; migrations, checkpoints and the last verify are skipped."""
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://ledger@127.0.0.1:9/ledger?connect_timeout=2")
    checklist = doctor()
    line = only_failure(checklist)
    assert line["check"] == "database reachable" and "cannot connect" in line["found"]
    for check in ("database migrated", "latest checkpoint", "last verify"):
        assert checklist.line(check)["found"] == "skipped: needs the database"


def test_an_unmigrated_schema_is_one_line_naming_db_upgrade(environment, doctor, monkeypatch, tmp_path):
    """An empty database: one FAIL that says to run `db upgrade`."""
    monkeypatch.setenv("DATABASE_URL", private_sqlite(tmp_path / "var" / "empty.db", migrated=False))
    checklist = doctor()
    line = only_failure(checklist)
    assert line["check"] == "database migrated" and "not migrated" in line["found"]
    assert "bookings-ledger db upgrade" in line["fix"]
    assert checklist.line("last verify")["found"] == "skipped: needs a migrated database"


def test_a_missing_sqlite_file_is_reported_not_created(environment, doctor, monkeypatch, tmp_path):
    """doctor never creates what it examines."""
    absent = tmp_path / "var" / "absent.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{absent}")
    line = only_failure(doctor())
    assert line["check"] == "database reachable" and str(absent) in line["found"]
    assert not absent.exists()


@pytest.mark.parametrize("name", ["var", "var/ledger.db", "var/keys.db", "var/checkpoints", "graph.pem"])
def test_files_open_to_others_fail(environment, doctor, monkeypatch, tmp_path, name):
    """var/ and the checkpoint directory 0700, the databases and the Graph certificate 0600: anything wider fails."""
    path = tmp_path / name
    if name == "graph.pem":
        path.write_text("-----BEGIN PRIVATE KEY-----\n")
        os.chmod(path, 0o600)
        monkeypatch.setenv("GRAPH_CLIENT_CERTIFICATE", str(path))  # GRAPH_CREDENTIAL stays static: no token needed
        assert doctor().line("file modes")["status"] == "ok"
    os.chmod(path, 0o755 if path.is_dir() else 0o644)
    line = only_failure(doctor())
    assert line["check"] == "file modes" and str(path) in line["found"] and "chmod" in line["fix"]


def test_a_verifier_key_of_another_signing_key_fails_with_the_right_one(environment, doctor, monkeypatch):
    """CHECKPOINT_VERIFIER_KEY must match CHECKPOINT_SIGNING_KEY; the fix prints the public key that does."""
    from ledger.core.signed_notes import verifier_key

    monkeypatch.setenv("CHECKPOINT_VERIFIER_KEY", verifier_key(environment["CHECKPOINT_ORIGIN"], secrets.token_bytes(32)))
    line = only_failure(doctor())
    assert line["check"] == "checkpoint verifier key" and "does not match" in line["found"]
    assert environment["CHECKPOINT_VERIFIER_KEY"] in line["fix"]


def test_the_latest_checkpoint_and_the_last_verify(environment, doctor, cli, monkeypatch, tmp_path):
    """No checkpoint and no verify: warnings; after both, ok; a checkpoint another key signed fails."""
    from ledger.core.signed_notes import verifier_key

    checklist = doctor()
    assert checklist.line("latest checkpoint")["status"] == "warn"
    assert checklist.line("last verify")["status"] == "warn" and "bookings-ledger verify" in checklist.line("last verify")["fix"]
    assert cli("checkpoint", "export", str(tmp_path / "cp.txt"))[0] == 0
    assert cli("verify")[0] == 0
    checklist = doctor()
    assert checklist.line("latest checkpoint")["status"] == "ok" and checklist.line("last verify")["status"] == "ok"
    other = secrets.token_bytes(32)
    monkeypatch.setenv("CHECKPOINT_SIGNING_KEY", base64.b64encode(other).decode())
    monkeypatch.setenv("CHECKPOINT_VERIFIER_KEY", verifier_key(environment["CHECKPOINT_ORIGIN"], other))
    line = only_failure(doctor())
    assert line["check"] == "latest checkpoint" and "does not verify" in line["found"]


def test_a_verify_older_than_a_week_warns(environment, doctor, cli):
    """The last full verify ran more than 7 days ago: warn, naming the command."""
    from sqlalchemy import update

    from database.engine import create_ledger_engine
    from ledger.models import VerifyState

    assert cli("verify")[0] == 0
    engine = create_ledger_engine(environment["DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(update(VerifyState).values(verified_at="2020-01-01T00:00:00.000000Z"))
    engine.dispose()
    line = doctor().line("last verify")
    assert line["status"] == "warn" and "days ago" in line["found"]


def test_a_public_url_that_is_plain_http_elsewhere_fails(environment, doctor, monkeypatch):
    """http:// on another host: Graph would refuse it; FAIL (and it does not answer either)."""
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://ledger.invalid")
    checklist = doctor()
    assert checklist.line("PUBLIC_BASE_URL is HTTPS")["status"] == "FAIL"
    assert checklist.line("PUBLIC_BASE_URL answers")["status"] == "FAIL"


def test_a_public_url_whose_webhook_path_does_not_echo_fails(environment, doctor, monkeypatch, _server):
    """Something answers, but not Graph's handshake (a proxy that does not route /webhooks/graph): FAIL."""
    server, _options = _server
    monkeypatch.setenv("PUBLIC_BASE_URL", server.base_url)  # the emulator: no webhook path
    line = only_failure(doctor())
    assert line["check"] == "PUBLIC_BASE_URL answers" and "/webhooks/graph" in line["fix"]


def test_the_key_store_in_the_main_database_fails(environment, doctor, monkeypatch):
    """KEYSTORE_URL pointing at the main database file under another spelling: FAIL."""
    main = environment["DATABASE_URL"].removeprefix("sqlite:///")
    monkeypatch.setenv("KEYSTORE_URL", f"sqlite:///{main.replace('/var/', '/var/./')}")
    line = only_failure(doctor())
    assert line["check"] == "key store" and "main database" in line["found"]


def test_the_text_checklist_has_one_line_per_check(environment, cli):
    """Without --json: one line per check starting with its status."""
    code, output = cli("doctor")
    lines = output.strip().splitlines()
    assert code == 0 and lines and all(line.split()[0] in ("ok", "warn", "skip", "FAIL") for line in lines), output
