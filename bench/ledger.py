"""Ledger benchmark: append throughput (SQLite, PostgreSQL), verify throughput against raw
SHA-256 over the same canonical bytes (in one process and as `verify` runs it, in
parallel segments), verify of many entries with flat memory, erasure throughput with secure
deletion in the key store, and subject lookup by email among 1,000,000 subjects.

    .venv/bin/python bench/ledger.py [--entries N] [--appends N] [--erasures N] [--subjects N] [--postgresql URL]

PostgreSQL is --postgresql, else BENCH_DATABASE_URL or TEST_DATABASE_URL (default the local test
server); it is skipped with a note when unreachable. Everything runs in a temporary directory /
schema; the PostgreSQL key store is a database of its own with a random name, dropped at the end.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import resource
import secrets
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from ledger.core.canonical import GENESIS_HASH, canonical_bytes  # noqa: E402
from ledger.core.chain import verify_chain  # noqa: E402
from database.engine import create_ledger_engine, read_only, upgrade  # noqa: E402
from ledger.entries import append_entry, build_entry, stream_row_batches, stream_rows  # noqa: E402
from ledger.chain_segments import Parallelism  # noqa: E402
from ledger.integrity import verify_ledger  # noqa: E402
from database.times import format_time  # noqa: E402
from ledger.blind_index import EMAIL, blind_digest  # noqa: E402
from ledger.encryption import MasterKeys  # noqa: E402
from ledger.keystore import SqlKeyStore, data_keys, open_keystore  # noqa: E402
from ledger.transactions import Ledger, LedgerKeys  # noqa: E402
from bench.support.figures import Figure, report  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BULK_BATCH = 20_000  # rows per INSERT round when filling the verify ledger
BYSTANDER_KEYS = 20_000  # other subjects' keys in the key store while erasing: VACUUM FULL rewrites them all
LOOKUPS = 2_000  # timed lookups by email
LOOKUP_P99_MS = 20.0  # issue 9's target
VERIFY_RATIO = 0.5  # issue 2's target: verify at least half as fast as raw hashing
FLAT_MIB = 64.0  # "flat memory": the peak grows by less than this over the whole ledger (batches of 10,000)
PERSON = {"email": "ann.example@contoso.com", "phone": "+44 20 7946 0018", "name": "Ann Example", "notes": "Asthma."}
CATEGORIES = {"email": "contact", "phone": "contact", "name": "identity", "notes": "health"}


def now() -> datetime:
    return datetime.now(timezone.utc)


def append_rate(engine: Engine, count: int) -> float:
    """Entries per second, one entry per transaction (the worst case: a commit each)."""
    started = time.perf_counter()
    for number in range(count):
        with Session(engine) as session, session.begin():
            append_entry(session, "exported", now(), {"number": number, "refs": {"appointment": "AAMkAGI2" * 8}})
    return count / (time.perf_counter() - started)


def bulk_fill(engine: Engine, count: int) -> None:
    """Write `count` realistic entries straight into the chain (fast, one batch in memory at a time)."""
    previous, moment = GENESIS_HASH, now()
    details = {"subject": secrets.token_hex(16), "refs": {"appointment": "AAMkAGI2" * 8}, "fields": ["email", "name", "phone"],
               "categories": ["booking"], "purpose": "appointment", "policy": "2024-02-26", "notice": "2024-02-26"}
    with engine.begin() as connection:
        for start in range(1, count + 1, BULK_BATCH):
            batch = []
            for seq in range(start, min(start + BULK_BATCH, count + 1)):
                body = canonical_bytes(build_entry("collected", seq, moment, details))
                previous = hashlib.sha256(previous + body).digest()
                batch.append({"seq": seq, "body": body, "hash": previous})
            connection.execute(text("INSERT INTO ledger_entries (seq, body, hash) VALUES (:seq, :body, :hash)"), batch)
        connection.execute(text("UPDATE ledger_head SET seq = :seq, hash = :hash"), {"seq": count, "hash": previous})


def raw_hash_rate(engine: Engine) -> tuple[float, int]:
    """SHA-256(prev || body) over the same bodies, timing only the hashing (no I/O): the ceiling."""
    sha256, previous, count, elapsed = hashlib.sha256, GENESIS_HASH, 0, 0.0
    with read_only(engine) as connection:
        for batch in stream_row_batches(connection):
            bodies = [body for _seq, body, _hash in batch]
            started = time.perf_counter()
            for body in bodies:
                previous = sha256(previous + body).digest()
            elapsed += time.perf_counter() - started
            count += len(bodies)
    return count / elapsed, count


def chain_rate(engine: Engine, count: int) -> float:
    """verify_chain over rows streamed from the database."""
    started = time.perf_counter()
    with read_only(engine) as connection:
        report = verify_chain(stream_rows(connection))
    assert report.ok and report.count == count, report.summary()
    return count / (time.perf_counter() - started)


def full_verify(engine: Engine, count: int) -> tuple[float, float, float]:
    """The `verify` path: (entries per second, growth of peak RSS over the run in MiB,
    the largest worker's peak RSS in MiB)."""
    reset_peak_rss()
    before = rss_kib("VmRSS")
    started = time.perf_counter()
    result = verify_ledger(engine, verifier_key=None, origin=None, clock=now)
    elapsed = time.perf_counter() - started
    assert result.ok, result.message
    # Linux reports ru_maxrss in KiB; the bench starts no other child processes.
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return count / elapsed, (rss_kib("VmHWM") - before) / 1024, worker / 1024


def reset_peak_rss() -> None:
    # Linux: writing 5 to clear_refs resets VmHWM (the peak RSS), so the peak of the earlier
    # phases (filling the database) does not hide the peak of verify itself.
    Path("/proc/self/clear_refs").write_text("5")


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def fill_bystander_keys(keystore: SqlKeyStore, count: int) -> None:
    """`count` wrapped-key-sized rows of other subjects, straight into the key store (they are never unwrapped)."""
    created = format_time(now())
    rows = [{"subject_ref": secrets.token_hex(16), "category": "contact", "wrapped_key": os.urandom(60),
             "master_key_id": keystore.master.current_id, "created_at": created} for _ in range(count)]
    with keystore.engine.begin() as connection:
        connection.execute(data_keys.insert(), rows)


def erasure_rate(engine: Engine, keystore: SqlKeyStore, count: int) -> float:
    """Subjects erased per second (keys destroyed and scrubbed, rows deleted, entries appended), one at a time."""
    ledger = Ledger(engine, LedgerKeys(keystore.master, os.urandom(32), "GB"), now, keystore=keystore)
    subjects = []
    for number in range(count):
        with ledger.transaction() as tx:
            subjects.append(tx.new_subject())
            tx.collect(subjects[-1], PERSON, categories=CATEGORIES, purpose="appointment", refs={"appointment": f"A{number}"})
    started = time.perf_counter()
    for number, subject in enumerate(subjects):
        ledger.erase_subject(subject, reason="erasure-request", tombstones=[("appointment", f"A{number}")])
    return count / (time.perf_counter() - started)


def lookup_latency(engine: Engine, keystore: SqlKeyStore, subjects: int) -> tuple[float, float]:
    """(p50, p99) in ms of `find_subjects(email=…)` among `subjects` blind-indexed subjects (bulk-filled)."""
    key = os.urandom(32)
    with engine.begin() as connection:
        for start in range(0, subjects, BULK_BATCH):
            connection.execute(text("INSERT INTO blind_indexes (kind, digest, subject_ref) VALUES (:kind, :digest, :subject)"), [
                {"kind": EMAIL, "digest": blind_digest(key, EMAIL, f"person{number}@example.org"), "subject": secrets.token_hex(16)}
                for number in range(start, min(start + BULK_BATCH, subjects))
            ])
    ledger = Ledger(engine, LedgerKeys(keystore.master, key, "GB"), now, keystore=keystore)
    timings = []
    for number in (secrets.randbelow(subjects) for _ in range(LOOKUPS)):
        started = time.perf_counter()
        with ledger.transaction() as tx:
            found = tx.find_subjects(email=f"Person{number}@Example.org")
        timings.append((time.perf_counter() - started) * 1000)
        assert len(found) == 1
    timings.sort()
    return timings[len(timings) // 2], timings[int(len(timings) * 0.99)]


def postgres_url(explicit: str | None) -> str:
    """--postgresql, else BENCH_DATABASE_URL or TEST_DATABASE_URL, else the local test server."""
    return explicit or os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG


def postgres_keystore(url: str, master: MasterKeys) -> SqlKeyStore:
    """A key store in a new database of its own on the server (dropped by `drop_postgres_keystore`)."""
    name = f"bench_keys_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    keystore = open_keystore(make_url(url).set(database=name).render_as_string(hide_password=False), master)
    keystore.engine.info = {"admin": admin, "database": name}  # type: ignore[misc]
    return keystore


def drop_postgres_keystore(keystore: SqlKeyStore) -> None:
    keystore.close()
    with keystore.engine.info["admin"].connect() as connection:  # type: ignore[index]
        connection.execute(text(f"DROP DATABASE {keystore.engine.info['database']} WITH (FORCE)"))  # type: ignore[index]


def postgres_engine(url: str) -> tuple[Engine | None, str]:
    """A fresh schema on the PostgreSQL server, or None and why not."""
    schema = f"bench_{secrets.token_hex(4)}"
    try:
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # noqa: BLE001 - any failure means: skip PostgreSQL with a note
        return None, f"PostgreSQL unreachable ({type(exc).__name__})"
    schema_url = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = create_ledger_engine(schema_url.render_as_string(hide_password=False))
    engine.info = {"admin": admin, "schema": schema}  # type: ignore[misc]
    return engine, schema


def drop_postgres(engine: Engine) -> None:
    engine.dispose()
    with engine.info["admin"].connect() as connection:  # type: ignore[index]
        connection.execute(text(f"DROP SCHEMA {engine.info['schema']} CASCADE"))  # type: ignore[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries in the verify ledger (default 1,000,000)")
    parser.add_argument("--appends", type=int, default=2_000, help="single-entry transactions per backend")
    parser.add_argument("--erasures", type=int, default=200, help="subjects erased one by one per backend")
    parser.add_argument("--subjects", type=int, default=1_000_000, help="blind-indexed subjects for the lookup")
    parser.add_argument("--postgresql", metavar="URL", help="PostgreSQL server for the PostgreSQL rows (fresh schema and key-store database)")
    args = parser.parse_args()
    pg_url = postgres_url(args.postgresql)
    figures: list[Figure] = []
    table = Table(title=f"bookings-ledger: ledger benchmark ({args.entries:,} entries verified)")
    for column in ("measure", "backend", "result", "note"):
        table.add_column(column)
    with tempfile.TemporaryDirectory() as directory:
        sqlite = create_ledger_engine(f"sqlite:///{directory}/bench.db")
        upgrade(sqlite)
        appends = append_rate(sqlite, args.appends)
        table.add_row("append", "sqlite", f"{appends:,.0f} entries/s", "one commit per entry")
        figures.append(Figure("ledger", "append, SQLite, one commit per entry", "", f"{appends:,.0f} entries/s", None, None))
        master = MasterKeys(os.urandom(32))
        keystore = open_keystore(f"sqlite:///{directory}/keys.db", master)
        fill_bystander_keys(keystore, BYSTANDER_KEYS)
        erasure_note = f"secure delete + WAL TRUNCATE; key store holds {BYSTANDER_KEYS:,} other keys; one subject, 3 keys each"
        erasures = erasure_rate(sqlite, keystore, args.erasures)
        table.add_row("erasure", "sqlite", f"{erasures:,.1f} subjects/s", erasure_note)
        figures.append(Figure("ledger", "erasure with secure deletion, SQLite", "", f"{erasures:,.1f} subjects/s", None, None))
        p50, p99 = lookup_latency(sqlite, keystore, args.subjects)
        keystore.close()
        table.add_row("lookup by email", "sqlite", f"p50 {p50:.2f} ms, p99 {p99:.2f} ms",
                      f"among {args.subjects:,} subjects (target p99 < 20 ms)")
        figures.append(lookup_figure("SQLite", args.subjects, p50, p99))
        postgres, note = postgres_engine(pg_url)
        if postgres is None:
            for measure in ("append", "erasure", "lookup by email"):
                table.add_row(measure, "postgresql", "skipped", note)
                figures.append(Figure("ledger", f"{measure}, PostgreSQL", "", f"skipped: {note}", None, None))
        else:
            upgrade(postgres)
            appends = append_rate(postgres, args.appends)
            table.add_row("append", "postgresql", f"{appends:,.0f} entries/s", "one commit per entry")
            figures.append(Figure("ledger", "append, PostgreSQL, one commit per entry", "", f"{appends:,.0f} entries/s", None, None))
            keystore = postgres_keystore(pg_url, master)
            fill_bystander_keys(keystore, BYSTANDER_KEYS)
            erasure_note = f"VACUUM + VACUUM FULL of the key table; {BYSTANDER_KEYS:,} other keys; 3 keys each"
            erasures = erasure_rate(postgres, keystore, args.erasures)
            table.add_row("erasure", "postgresql", f"{erasures:,.1f} subjects/s", erasure_note)
            figures.append(Figure("ledger", "erasure with secure deletion, PostgreSQL", "", f"{erasures:,.1f} subjects/s", None, None))
            p50, p99 = lookup_latency(postgres, keystore, args.subjects)
            table.add_row("lookup by email", "postgresql", f"p50 {p50:.2f} ms, p99 {p99:.2f} ms",
                          f"among {args.subjects:,} subjects (target p99 < 20 ms)")
            figures.append(lookup_figure("PostgreSQL", args.subjects, p50, p99))
            drop_postgres_keystore(keystore)
            drop_postgres(postgres)
        verify_db = create_ledger_engine(f"sqlite:///{directory}/verify.db")
        upgrade(verify_db)
        bulk_fill(verify_db, args.entries)
        full, rss, worker_rss = full_verify(verify_db, args.entries)  # first: peak RSS must not include anything else
        raw, count = raw_hash_rate(verify_db)
        chain = chain_rate(verify_db, count)
        table.add_row("raw hashlib.sha256", "memory", f"{raw:,.0f} entries/s", "same canonical bytes, no I/O")
        table.add_row("verify chain, one process", "sqlite", f"{chain:,.0f} entries/s", f"ratio to raw {chain / raw:.2f}")
        table.add_row(
            "verify", "sqlite", f"{full:,.0f} entries/s",
            f"ratio to raw {full / raw:.2f} (target >= 0.5); {Parallelism().workers} processes; chain + head, no checkpoints",
        )
        table.add_row(
            "verify memory", "sqlite", f"{rss:+.1f} MiB peak RSS",
            f"over {count:,} entries (flat: batches of 10,000); each worker at most {worker_rss:.0f} MiB RSS (pages shared with this process by fork included)",
        )
        figures += [
            Figure("ledger", "verify vs raw hashlib.sha256 of the same bytes", f">= {VERIFY_RATIO} of raw",
                   f"{full:,.0f} entries/s (raw {raw:,.0f}/s)", full / raw, full / raw >= VERIFY_RATIO),
            Figure("ledger", f"verify memory over {count:,} entries", f"flat: peak RSS +< {FLAT_MIB:.0f} MiB",
                   f"{rss:+.1f} MiB; workers <= {worker_rss:.0f} MiB", None, rss < FLAT_MIB),
        ]
    Console().print(table)
    report(figures)
    return 0


def lookup_figure(backend: str, subjects: int, p50: float, p99: float) -> Figure:
    """p99 of a lookup by email (no baseline: the target is absolute)."""
    return Figure("ledger", f"lookup by email among {subjects:,} subjects, {backend}", f"p99 < {LOOKUP_P99_MS:.0f} ms",
                  f"p99 {p99:.2f} ms (p50 {p50:.2f})", None, p99 < LOOKUP_P99_MS)


if __name__ == "__main__":
    sys.exit(main())
