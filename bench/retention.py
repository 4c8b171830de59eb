"""Retention benchmark: one evaluation over 100,000 and over 1,000,000 held records with the same
1,000 expiring (target: the second under 1.5x the first: its cost follows what expires, not what is
held), then anonymisation against the emulator (bench/anonymise.py) in Graph HTTP requests per
record (target at most 0.25) and records per second.

    .venv/bin/python bench/retention.py [--held 100000 1000000] [--expiring 1000] [--appointments 1000]
                                        [--postgresql URL]

Each evaluation runs on a fresh ledger (SQLite, then a fresh schema on PostgreSQL: --postgresql,
else BENCH_DATABASE_URL or TEST_DATABASE_URL, skipped with a note when unreachable) whose
`retention_due` holds the records: the expiring ones due an hour ago, the rest over the next six
years; the expiring ones' appointments are in the Bookings mirror, so each gets its
`retention-expired` entry and a planned operation.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from config.retention import load_policy  # noqa: E402
from config.settings import DEFAULT_RETENTION_POLICY  # noqa: E402
from database.engine import create_ledger_engine, upgrade  # noqa: E402
from database.times import format_time  # noqa: E402
from jobs.retention import RetentionEvaluator, record_policy  # noqa: E402
from ledger.encryption import MasterKeys  # noqa: E402
from ledger.keystore import open_keystore  # noqa: E402
from ledger.transactions import Ledger, LedgerKeys  # noqa: E402
from state.bookings_mirror import ACTIVE, BookingAppointment  # noqa: E402
from state.retention_dues import RetentionDue  # noqa: E402
from bench.support.figures import Figure, report  # noqa: E402

TARGET_RATIO = 1.5
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BATCH = 50_000                      # rows per INSERT round while filling
BUSINESS = "clinic@contoso.com"
SIX_YEARS = timedelta(days=6 * 365)


def fill(ledger: Ledger, held: int, expiring: int, now: datetime) -> None:
    """`held` due dates, of which `expiring` are due an hour ago; those have mirror rows to plan against."""
    stamp = format_time(now)
    with ledger.engine.begin() as connection:
        for start in range(0, held, BATCH):
            rows = []
            for number in range(start, min(start + BATCH, held)):
                due = now - timedelta(hours=1) if number < expiring else now + SIX_YEARS * (number / held) + timedelta(days=1)
                rows.append({"object_type": "appointment", "object_id": f"appointment-{number}",
                             "subject_ref": f"{number:032x}", "category": "booking.notes", "business_id": BUSINESS,
                             "clock_start": format_time(due - timedelta(days=90)), "period": "P90D",
                             "due_at": format_time(due), "expired_at": None})
            connection.execute(insert(RetentionDue), rows)
        connection.execute(insert(BookingAppointment), [
            {"appointment_id": f"appointment-{n}", "business_id": BUSINESS, "state": ACTIVE, "start_at": None, "end_at": None,
             "subjects": json.dumps({"c": f"{n:032x}"}), "digests": "{}", "graph_version": None, "updated_at": stamp}
            for n in range(expiring)])
    if ledger.engine.dialect.name == "postgresql":
        # What autovacuum does soon after a bulk load; without statistics the planner guesses.
        with ledger.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))


def postgres_schema(url: str) -> tuple[str | None, Any, str]:
    """A fresh schema's URL on the server (None and why not), the admin engine, the schema's name."""
    schema = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # noqa: BLE001 - any failure means: skip PostgreSQL with a note
        return None, admin, f"PostgreSQL unreachable ({type(exc).__name__})"
    return make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False), \
        admin, schema


def measure_evaluation(directory: str, database_url: str, held: int, expiring: int) -> dict[str, Any]:
    """One evaluation over `held` records with `expiring` due: seconds, and what it found."""
    now = datetime.now(timezone.utc)
    engine = create_ledger_engine(database_url)
    upgrade(engine)
    keys = LedgerKeys(MasterKeys(os.urandom(32)), secrets.token_bytes(32), "GB")
    keystore = open_keystore(f"sqlite:///{directory}/keys-{held}.db", keys.master)
    ledger = Ledger(engine, keys, lambda: now, keystore=keystore)
    policy = load_policy(DEFAULT_RETENTION_POLICY)
    try:
        fill(ledger, held, expiring, now)
        with ledger.transaction() as tx:
            record_policy(tx, policy, now)          # the one-off policy entry is not what is measured
        started = time.perf_counter()
        report = RetentionEvaluator(ledger, policy, lambda: now, None).evaluate()
        seconds = time.perf_counter() - started
    finally:
        keystore.close()
        engine.dispose()
    return {"held": held, "expired": len(report.expired), "seconds": seconds,
            "operations": sum(1 for e in report.expired if e.operation)}


def anonymisation_rows(appointments: int) -> tuple[list[tuple[str, str, str]], list[Figure]]:
    """The anonymisation rows of bench/anonymise.py, when it is there, and its figures."""
    path = Path(__file__).with_name("anonymise.py")
    if not path.exists():
        return [("anonymisation", "skipped", "bench/anonymise.py is not in this checkout")], []
    spec = importlib.util.spec_from_file_location("bench_anonymise", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    result = module.measure_anonymisation(appointments=appointments)
    return [(f"anonymisation, {result['records']:,} records", f"{result['requests_per_record']:.3f} HTTP requests/record",
             f"target <= {module.TARGET}; {result['records_per_second']:,.1f} records/s; {result['done']:,} done")], \
        module.figures("retention", result)


def add_evaluation_rows(table: Table, backend: str, runs: list[dict[str, Any]]) -> Figure:
    """A row per run and one for the ratio of the last to the first; that ratio's figure."""
    for run in runs:
        table.add_row(f"evaluation over {run['held']:,} records, {backend}", f"{run['seconds'] * 1000:,.0f} ms",
                      f"{run['expired']:,} expired, {run['operations']:,} operations planned")
    small, large = runs[0], runs[-1]
    ratio = large["seconds"] / small["seconds"]
    table.add_row(f"ratio {large['held']:,} / {small['held']:,}, {backend}", f"{ratio:.2f}x",
                  f"target < {TARGET_RATIO}x: {'met' if ratio < TARGET_RATIO else 'NOT met'}")
    return Figure("retention", f"evaluation over {large['held']:,} vs {small['held']:,} held, {large['expired']:,} expiring, {backend}",
                  f"< {TARGET_RATIO}x baseline", f"{large['seconds'] * 1000:,.0f} ms (baseline {small['seconds'] * 1000:,.0f})",
                  ratio, ratio < TARGET_RATIO)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--held", type=int, nargs=2, default=[100_000, 1_000_000], help="records held in the two runs")
    parser.add_argument("--expiring", type=int, default=1_000, help="records expiring in each run")
    parser.add_argument("--appointments", type=int, default=1_000, help="appointments of the anonymisation run")
    parser.add_argument("--postgresql", metavar="URL", help="PostgreSQL server for the PostgreSQL rows (a fresh schema each)")
    args = parser.parse_args()
    pg_url = args.postgresql or os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG
    table = Table(title=f"bookings-ledger: retention benchmark ({args.expiring:,} records expiring)")
    for column in ("measure", "result", "note"):
        table.add_column(column)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as directory:
        sqlite = [measure_evaluation(directory, f"sqlite:///{directory}/retention-{held}.db", held, args.expiring)
                  for held in args.held]
        figures.append(add_evaluation_rows(table, "SQLite", sqlite))
        postgres: list[dict[str, Any]] = []
        for held in args.held:
            url, admin, schema = postgres_schema(pg_url)
            if url is None:
                table.add_row("evaluation", "skipped", schema)
                figures.append(Figure("retention", "evaluation, PostgreSQL", f"< {TARGET_RATIO}x baseline", f"skipped: {schema}",
                                      None, None))
                break
            try:
                postgres.append(measure_evaluation(directory, url, held, args.expiring))
            finally:
                with admin.connect() as connection:
                    connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                admin.dispose()
        if postgres:
            figures.append(add_evaluation_rows(table, "PostgreSQL", postgres))
    rows, anonymisation = anonymisation_rows(args.appointments)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    report(figures + anonymisation)
    return 0


if __name__ == "__main__":
    sys.exit(main())
