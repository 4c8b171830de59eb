"""`retention status` and `retention run [--dry-run]` as an operator runs them, in processes of
their own, on the demo's minute-scale policy (so records a sweep reads are already expired)."""
from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bookings_ledger.demo import DEMO_RETENTION_POLICY
from state.anonymisation import AnonymisationOperation
from test_commands import operator_env, run_command  # noqa: F401  (a fixture, used by name)

pytestmark = pytest.mark.parametrize("database_factory", ["sqlite"], indirect=True)


@pytest.fixture
def swept(operator_env):  # noqa: F811
    """The operator's settings on the demo policy, after one sweep of the seeded business."""
    env = {**operator_env, "RETENTION_POLICY_FILE": str(DEMO_RETENTION_POLICY)}
    done = run_command(env, "sync")
    assert done.returncode == 0, done.stderr
    return env


def database_files(env: dict[str, str]) -> dict[str, str]:
    """Digest of the ledger's and the key store's SQLite files: the database and its write-ahead log
    (an empty log and none are the same: the last connection to close deletes it). The -shm index
    is shared memory that any reader rewrites, and holds no data."""
    digests = {}
    for name in ("DATABASE_URL", "KEYSTORE_URL"):
        path = Path(env[name].removeprefix("sqlite:///"))
        wal = path.with_name(path.name + "-wal")
        digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        digests[str(wal)] = hashlib.sha256(wal.read_bytes()).hexdigest() if wal.exists() and wal.stat().st_size else ""
    return digests


def checkpoint(env: dict[str, str]) -> None:
    """Move each write-ahead log into its database, so that the files hold every commit so far."""
    for name in ("DATABASE_URL", "KEYSTORE_URL"):
        with sqlite3.connect(env[name].removeprefix("sqlite:///")) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_status_lists_what_expires_by_category_and_day(swept):
    shown = run_command(swept, "retention", "status", "--days", "1", "--json")
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)["expiring"]
    assert rows and {"day", "category", "records", "overdue"} == set(rows[0])
    assert {r["category"] for r in rows if r["overdue"]} >= {"booking.identity"}   # past appointments, 15 minutes on
    lines = run_command(swept, "retention", "status", "--days", "1")
    assert lines.returncode == 0 and "booking.identity" in lines.stdout and "(overdue)" in lines.stdout


def test_a_dry_run_lists_what_would_expire_and_touches_nothing(swept, control, service):
    service.ledger.engine.dispose()
    checkpoint(swept)
    control.call("DELETE", "/requests")
    files = database_files(swept)
    dry = run_command(swept, "retention", "run", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert report["dry_run"] and report["expired"] and report["policy_changed"]["policy_version"] == "demo-2026-12-01.1"
    assert database_files(swept) == files
    assert not [key for key in control.call("GET", "/requests") if " /v1.0/" in key]
    again = json.loads(run_command(swept, "retention", "run", "--dry-run", "--json").stdout)
    assert len(again["expired"]) == len(report["expired"])    # nothing was marked


def test_a_run_expires_records_plans_and_runs_their_anonymisation_once(swept, service):
    done = run_command(swept, "retention", "run", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["expired"] and all(e["operation"] for e in report["expired"])
    assert report["anonymisation"]["operations"] == len({e["operation"] for e in report["expired"]})
    with Session(service.ledger.engine) as session:
        assert session.scalars(select(AnonymisationOperation.state).distinct()).all()
    repeat = json.loads(run_command(swept, "retention", "run", "--json").stdout)
    assert repeat["expired"] == [] and repeat["policy_changed"] is None
