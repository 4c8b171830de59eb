"""Benchmark: the capacity model of docs/scale.md, every figure measured in one run.

    .venv/bin/python bench/capacity.py [--repeats 5] [--changes 600] [--businesses 4] [--seconds 5] [--postgresql URL]

Against the emulator over loopback HTTP, with the real web app receiving the notifications into
the inbox and one `Worker` driven cycle by cycle (bench/support/capacity_rig.py), on SQLite and on
PostgreSQL (--postgresql, else BENCH_DATABASE_URL or TEST_DATABASE_URL; a fresh schema, dropped):

1. per booking change (create, update, cancel), each made alone and processed before the next:
   change notifications Graph delivered, Graph HTTP requests and operations the service made,
   ledger entries, rows per table, write statements and commits;
2. one worker draining a backlog of `--changes` (half creates, a quarter updates, a quarter
   cancels of held bookings, over `--businesses` businesses): changes/s, and Graph operations per change when a
   cycle's reads serve many changes (ratio to the isolated figure of the same run);
3. one PostgreSQL: single-entry ledger appends/s from 1, 2 and 4 processes (ratio to 1);
4. one web process (gunicorn, 1 worker x 8 threads) answering POST /webhooks/graph, closed loop,
   with bench/webhook_ack.py's own load functions.

Then the model's arithmetic (Graph's per-mailbox limits, businesses per worker and per database),
printed and reported as Figure rows.
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.orm import Session  # noqa: E402

from bench.support.capacity_rig import Cost, Rig  # noqa: E402
from bench.support.schemas import postgres_schema  # noqa: E402
from bench.support.figures import Figure, report  # noqa: E402
from database.engine import create_ledger_engine, upgrade  # noqa: E402
from ledger.entries import append_entry  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WEB_PORT = 18501             # this bench's port range is 18500-18599
GRAPH_REQUESTS_PER_MINUTE = 1_000   # Outlook's 10,000 requests per 10 minutes per app and mailbox (graph-facts §3)
GRAPH_CONCURRENCY = 4               # requests in flight per app and mailbox (graph-facts §3)
BUSY_BUSINESS_PER_MINUTE = 2.0      # a busy booking business at its peak hour: 120 changes an hour (an assumption)
# What docs/scale.md §1 claims each change costs alone: (notifications, Graph operations, ledger
# entry kind). The Figure rows hold the run to it and tests/bench/test_capacity.py a tiny run.
CLAIMED = {"create": (1, 3, "collected"), "update": (1, 1, "updated"), "cancel": (1, 1, "cancelled")}
KINDS = tuple(CLAIMED)


@dataclass
class Backend:
    """What one run on one database measured."""

    name: str
    isolated: dict[str, Cost]     # per change kind, each change alone
    backlog: Cost                 # one worker draining a mixed backlog
    drain_seconds: float

    @property
    def worker_rate(self) -> float:
        return self.backlog.changes / self.drain_seconds


def isolated_costs(rig: Rig, repeats: int) -> dict[str, Cost]:
    """Each kind of change made alone and processed before the next, `repeats` times."""
    business = rig.businesses[0]
    rig.driver.create(business)   # the first change of a business also reads its time zone: warm-up, not counted
    rig.settle()
    appointments, costs = [], {}
    with rig.tally(repeats) as costs["create"]:
        for _ in range(repeats):
            appointments.append(rig.driver.create(business))
            rig.settle()
    with rig.tally(repeats) as costs["update"]:
        for appointment in appointments:
            rig.driver.update(business, appointment)
            rig.settle()
    with rig.tally(repeats) as costs["cancel"]:
        for appointment in appointments:
            rig.driver.cancel(business, appointment)
            rig.settle()
    return costs


def backlog_cost(rig: Rig, changes: int) -> tuple[Cost, float]:
    """A mixed backlog queued in the inbox while the worker waits, then drained: (cost, seconds).
    Half are new bookings; the updates and cancels are of bookings the ledger already holds, so
    every change calls for an entry (a booking made and cancelled inside one cycle would not)."""
    spread = [rig.businesses[i % len(rig.businesses)] for i in range(changes)]
    held = [(business, rig.driver.create(business)) for business in spread[: changes - changes // 2]]
    rig.settle()   # set-up: these are in the ledger before the backlog starts
    with rig.tally(changes) as cost:
        for business in spread[: changes // 2]:
            rig.driver.create(business)
        for number, (business, appointment) in enumerate(held):
            (rig.driver.update if number % 2 else rig.driver.cancel)(business, appointment)
        seconds = rig.settle()
    return cost, seconds


def measure_backend(name: str, url: str, directory: Path, args: argparse.Namespace) -> Backend:
    with Rig(url, directory, businesses=args.businesses) as rig:
        isolated = isolated_costs(rig, args.repeats)
        backlog, seconds = backlog_cost(rig, args.changes)
    return Backend(name, isolated, backlog, seconds)


def _append_for(url: str, seconds: float, out) -> None:  # type: ignore[no-untyped-def]
    """One process: single-entry transactions for `seconds` (bench/ledger.py's append, time-boxed)."""
    engine = create_ledger_engine(url)
    deadline, done = time.perf_counter() + seconds, 0
    while time.perf_counter() < deadline:
        with Session(engine) as session, session.begin():
            append_entry(session, "exported", datetime.now(timezone.utc), {"number": done, "refs": {"appointment": "AAMkAGI2" * 8}})
        done += 1
    engine.dispose()
    out.put(done)


def append_rates(server_url: str, processes: tuple[int, ...], seconds: float) -> dict[int, float]:
    """Ledger appends/s on one PostgreSQL from N processes appending at once, for each N."""
    rates = {}
    with postgres_schema(server_url) as url:
        engine = create_ledger_engine(url)
        upgrade(engine)
        engine.dispose()
        for count in processes:
            queue = multiprocessing.Queue()
            pool = [multiprocessing.Process(target=_append_for, args=(url, seconds, queue)) for _ in range(count)]
            [p.start() for p in pool]
            total = sum(queue.get(timeout=seconds + 60) for _ in pool)
            [p.join() for p in pool]
            rates[count] = total / seconds
    return rates


def web_rate(server_url: str, seconds: float) -> float:
    """POST /webhooks/graph answers/s of one web process (1 gunicorn worker, 8 threads), inbox on
    PostgreSQL (a fresh schema, dropped). The `ack` work improves this path: this calls
    bench/webhook_ack.py's own functions, so a refreshed run of this bench measures it as it is."""
    # Importable when this file runs as a script (its folder is then sys.path[0], for the spawned
    # server too); the tests import this module only for its counting.
    import webhook_ack

    with postgres_schema(server_url) as url:
        server = multiprocessing.Process(target=webhook_ack.serve, args=("ledger", WEB_PORT, webhook_ack.prepare(url), 1),
                                         daemon=True)
        server.start()
        try:
            webhook_ack.wait_until_up(WEB_PORT)
            webhook_ack.in_process(webhook_ack.closed_loop, WEB_PORT, 1.0, 8)   # warm-up
            return webhook_ack.in_process(webhook_ack.closed_loop, WEB_PORT, seconds, 8)
        finally:
            server.terminate()
            server.join(10)


def print_costs(backend: Backend) -> None:
    print(f"{backend.name}: per change, each alone (mean of the repeats)")
    print(f"  {'change':<8}{'notif.':>7}{'POSTs':>7}{'HTTP':>6}{'ops':>6}{'entries':>9}{'rows':>6}{'stmts':>7}{'commits':>8}  rows by table")
    for kind, cost in {**backend.isolated, f"backlog ({backend.backlog.changes})": backend.backlog}.items():
        per = cost.per_change
        print(f"  {kind:<8}{per(cost.notifications):>7.2f}{per(cost.deliveries):>7.2f}{per(cost.graph_http):>6.2f}"
              f"{per(cost.graph_operations):>6.2f}{per(sum(cost.entries.values())):>9.2f}{per(sum(cost.rows.values())):>6.1f}"
              f"{per(cost.statements):>7.1f}{per(cost.commits):>8.1f}  "
              + ", ".join(f"{t} {per(n):.1f}" for t, n in cost.rows.most_common()))
    print(f"  one worker drained the backlog at {backend.worker_rate:,.0f} changes/s ({backend.drain_seconds:.2f} s)")


def model(backends: list[Backend], appends: dict[int, float], web: float) -> list[Figure]:
    """The capacity model's figures, each derived from what this run measured (docs/scale.md)."""
    sqlite, postgres = backends[0], backends[-1]
    iso = postgres.isolated
    rows = []
    for kind, (notifications, operations, entry) in CLAIMED.items():
        cost = iso[kind]
        measured = (cost.per_change(cost.notifications), cost.per_change(cost.graph_operations), cost.per_change(cost.entries[entry]))
        for name, claim, value in zip(("notifications", "Graph operations", f"'{entry}' ledger entries"),
                                      (notifications, operations, 1), measured):
            rows.append(Figure("capacity", f"{name} per {kind}, alone", str(claim), f"{value:.2f}", None, abs(value - claim) < 1e-9))
    rows += [Figure("capacity", f"commits per {k} (worker side)", "", f"{iso[k].per_change(iso[k].commits):.1f}", None, None)
             for k in KINDS]
    mixed = sum(iso[k].graph_operations for k in KINDS) / sum(iso[k].changes for k in KINDS)
    coalesced = postgres.backlog.per_change(postgres.backlog.graph_operations)
    rows.append(Figure("capacity", "Graph operations per change, backlog vs alone", "", f"{coalesced:.3f}",
                       coalesced / mixed, None))
    for backend in backends:
        rows.append(Figure("capacity", f"one worker, {backend.name}", "", f"{backend.worker_rate:,.0f} changes/s",
                           backend.worker_rate / sqlite.worker_rate if backend is not sqlite else None, None))
    for count, rate in appends.items():
        rows.append(Figure("capacity", f"PostgreSQL ledger appends, {count} process(es)", "", f"{rate:,.0f} appends/s",
                           rate / appends[1], None))
    rows.append(Figure("capacity", "one web process, POST /webhooks/graph", "", f"{web:,.0f} req/s", None, None))
    per_business = GRAPH_REQUESTS_PER_MINUTE / iso["create"].per_change(iso["create"].graph_operations)
    rows.append(Figure("capacity", "Graph-bound changes/min per business (all creates, alone)", "",
                       f"{per_business:,.0f}/min", None, None))
    rows.append(Figure("capacity", "Graph-bound changes/min per business (backlog mix)", "",
                       f"{GRAPH_REQUESTS_PER_MINUTE / coalesced:,.0f}/min", None, None))
    businesses = postgres.worker_rate * 60 / BUSY_BUSINESS_PER_MINUTE
    rows.append(Figure("capacity", f"busy businesses ({BUSY_BUSINESS_PER_MINUTE:g} changes/min) per worker, PostgreSQL", "",
                       f"{businesses:,.0f}", None, None))
    database = max(appends.values()) / max(iso[k].per_change(sum(iso[k].entries.values())) for k in KINDS)
    rows.append(Figure("capacity", "one PostgreSQL, ledger-append-bound changes/s", "", f"{database:,.0f} changes/s", None, None))
    rows.append(Figure("capacity", "busy businesses per PostgreSQL", "",
                       f"{database * 60 / BUSY_BUSINESS_PER_MINUTE:,.0f}", None, None))
    return rows


def postgres_url(explicit: str | None) -> str:
    return explicit or os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="changes of each kind made alone")
    parser.add_argument("--changes", type=int, default=600, help="changes in the worker's backlog")
    parser.add_argument("--businesses", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the append and web measurements")
    parser.add_argument("--postgresql", metavar="URL", help="PostgreSQL server (fresh schemas, dropped)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)   # one line per notification otherwise
    server = postgres_url(args.postgresql)
    with tempfile.TemporaryDirectory() as directory:
        backends = [measure_backend("SQLite", f"sqlite:///{Path(directory) / 'ledger.db'}", Path(directory), args)]
        with postgres_schema(server) as url, tempfile.TemporaryDirectory() as keys:
            backends.append(measure_backend("PostgreSQL", url, Path(keys), args))
    for backend in backends:
        print_costs(backend)
    appends = append_rates(server, (1, 2, 4), args.seconds)
    print("one PostgreSQL, single-entry ledger appends: "
          + ", ".join(f"{n} process(es) {rate:,.0f}/s" for n, rate in appends.items()))
    web = web_rate(server, args.seconds)
    print(f"one web process (gunicorn 1 x 8 threads, inbox on PostgreSQL): {web:,.0f} POST /webhooks/graph per s")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    report(model(backends, appends, web))
    return 0


if __name__ == "__main__":
    multiprocessing.set_start_method("spawn")   # the append and web processes start clean, without this one's pools
    sys.exit(main())
