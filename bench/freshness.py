"""Benchmark: freshness of the ledger, from a booking change in Graph to its ledger entry, and of
the completeness watermark.

    .venv/bin/python bench/freshness.py [--changes 1000] [--rate 50] [--businesses 2] [--idle-hours 6]

One run against the emulator over loopback HTTP: the real web app receives the emulator's
notifications into the inbox (SQLite), one `Worker` (interval 1 s) processes it, and this
script books, reschedules, edits and cancels appointments through Graph at a fixed rate.
Prints p50/p95 latency from each change to the first ledger entry reflecting it, and Graph
traffic per change from the emulator's request counts: HTTP requests ($batch envelopes; the
worker reads only through $batch) and Graph operations (the requests inside them, which
Graph's throttling counts one by one). Targets: p95 under 2 s, at most 0.2 HTTP requests per change.

Then, on Graph's clock warped forward `--idle-hours` in 30 s steps with nothing changing, the
watermark's lag (now minus the watermark, sampled per business per step) and Graph requests per
business per hour, twice: the baseline (full sweeps alone, every 6 hours, the schedule before
delta rounds) and the scheduler's delta rounds (every DELTA_INTERVAL_MINUTES, 4). Printed as
ratios to the baseline and to the targets: p95 lag under 5 minutes, at most 20 requests per
business per idle hour (bench/support/watermark_lag.py).
"""
from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bookings_ledger.app import create_app  # noqa: E402
from config import load_settings  # noqa: E402
from config.retention import load_policy  # noqa: E402
from connector import GraphConnector, StaticCredential  # noqa: E402
from emulator import EmulatorServer  # noqa: E402
from jobs.ingest import Ingestor  # noqa: E402
from bookings_ledger.wiring import sync_services  # noqa: E402
from jobs.worker import Worker  # noqa: E402
from ledger.keystore import open_keystore  # noqa: E402
from ledger.transactions import Ledger, LedgerKeys, utc_now  # noqa: E402
from ledger.core.canonical import parse_entry  # noqa: E402
from database.engine import create_ledger_engine, upgrade  # noqa: E402
from ledger.entries import stream_rows  # noqa: E402
from state.inbox import depth  # noqa: E402
from bookings_ledger.keys import generate_all_keys  # noqa: E402
from bench.support.figures import Figure, report  # noqa: E402
from bench.support.watermark_lag import LagFigures, simulate  # noqa: E402

P95_TARGET = 2.0  # seconds from a change to its ledger entry (issue 5)
REQUESTS_TARGET = 0.2  # Graph HTTP requests per change (issue 5)
LAG_TARGET = 300.0  # seconds: the watermark's p95 lag (issue 10)
IDLE_REQUESTS_TARGET = 20.0  # Graph requests per business per idle hour (issue 10)
OPERATIONS = {"create": 5, "reschedule": 2, "edit": 2, "cancel": 1}  # relative frequencies


@dataclass
class Change:
    """One change made through Graph: when, to which appointment, and what it was."""

    at: datetime
    appointment_id: str
    operation: str


class Driver:
    """Makes booking changes through Graph on a fixed schedule."""

    def __init__(self, graph_url: str, businesses: list[dict], seed: int) -> None:
        self.http = httpx.Client(base_url=graph_url, headers={"Authorization": "Bearer bench"}, timeout=30)
        self.businesses, self.rng = businesses, random.Random(seed)
        self.live: list[tuple[str, str, str]] = []   # (business, appointment, customer id) made by this run

    def change(self) -> Change:
        operation = self.rng.choices(list(OPERATIONS), list(OPERATIONS.values()))[0] if len(self.live) > 20 else "create"
        picked = self.rng.choice(self.live) if operation != "create" else None
        business, appointment_id, customer_id = picked or ("", "", "")
        now = datetime.now(timezone.utc)
        if operation == "create":
            appointment_id = self._create()
        elif operation == "reschedule":
            start = now + timedelta(days=self.rng.randrange(1, 30), minutes=15 * self.rng.randrange(96))
            self._patch(business, appointment_id, {"startDateTime": _dtz(start), "endDateTime": _dtz(start + timedelta(minutes=30))})
        elif operation == "edit":
            customer = {"@odata.type": "#microsoft.graph.bookingCustomerInformation", "customerId": customer_id,
                        "name": "Bench Customer", "emailAddress": f"edited{self.rng.randrange(10**6)}@example.com"}
            self._patch(business, appointment_id, {"customers": [customer]})
        else:
            self.http.post(f"{self._root(business)}/appointments/{appointment_id}/cancel",
                           json={"cancellationMessage": "Bench."}).raise_for_status()
            self.live.remove(picked)  # type: ignore[arg-type]
        return Change(now, appointment_id, operation)

    def _create(self) -> str:
        business = self.rng.choice(self.businesses)
        start = datetime.now(timezone.utc) + timedelta(days=self.rng.randrange(1, 30), minutes=15 * self.rng.randrange(96))
        body = {"serviceId": business["service"], "startDateTime": _dtz(start), "endDateTime": _dtz(start + timedelta(minutes=30)),
                "serviceNotes": "Bench.", "customers": [{
                    "@odata.type": "#microsoft.graph.bookingCustomerInformation", "name": "Bench Customer",
                    "emailAddress": f"bench{self.rng.randrange(10**6)}@example.com", "notes": "Bench note."}]}
        response = self.http.post(f"{self._root(business['id'])}/appointments", json=body)
        response.raise_for_status()
        created = response.json()
        self.live.append((business["id"], created["id"], created["customers"][0]["customerId"]))
        return created["id"]

    def _patch(self, business: str, appointment_id: str, body: dict) -> None:
        self.http.patch(f"{self._root(business)}/appointments/{appointment_id}", json=body).raise_for_status()

    @staticmethod
    def _root(business: str) -> str:
        return f"/solutions/bookingBusinesses/{business}"


def _dtz(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def latencies(changes: list[Change], entries: list[dict]) -> tuple[list[float], Counter[str]]:
    """Seconds from each change to the first entry of its appointment at or after it (changes that
    fall into one worker cycle share that entry)."""
    by_key: dict[str, list[datetime]] = {}
    for entry in entries:
        appointment = entry.get("refs", {}).get("appointment")
        if appointment:
            moment = datetime.strptime(entry["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
            by_key.setdefault(appointment, []).append(moment)
    found, missing = [], Counter[str]()
    for change in changes:
        times = [t for t in by_key.get(change.appointment_id, []) if t >= change.at]
        if times:
            found.append((min(times) - change.at).total_seconds())
        else:
            missing[change.operation] += 1   # booked and cancelled within one cycle: never held
    return found, missing


def run(args: argparse.Namespace, directory: Path) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)   # one line per notification otherwise
    with EmulatorServer(port=0, seed=11) as emu, httpx.Client(base_url=emu.base_url + "/_emulator") as control:
        ids = control.post("/seed", json={"seed": 11, "businesses": args.businesses, "appointmentsPerBusiness": 50,
                                          "customersPerBusiness": 30}).json()["businesses"]
        state = control.get("/state", params={"appointments": "false"}).json()["businesses"]
        businesses = [{"id": b["business"]["id"], "service": next(s["id"] for s in b["services"] if s["maximumAttendeesCount"] == 1)}
                      for b in state]
        url = f"sqlite:///{directory / 'ledger.db'}"
        upgrade(create_ledger_engine(url))
        overrides = {**generate_all_keys(), "GRAPH_TENANT_ID": emu.emulator.tenant_id, "DATABASE_URL": url,
                     "GRAPH_BASE_URL": emu.graph_url,
                     "GRAPH_CREDENTIAL": "static", "BOOKING_BUSINESSES": ",".join(ids)}
        app = create_app(overrides)
        web = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=web.serve_forever, daemon=True).start()
        overrides["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{web.server_port}"
        settings = load_settings(overrides)
        engine = create_ledger_engine(url)
        keys = LedgerKeys.from_settings(settings)
        ledger = Ledger(engine, keys, utc_now, keystore=open_keystore(f"sqlite:///{directory / 'keys.db'}", keys.master))
        ingestor = Ingestor(ledger, load_policy(settings.RETENTION_POLICY_FILE), clock=utc_now)
        with GraphConnector(base_url=emu.graph_url, credential=StaticCredential()) as graph:
            sync_services(settings, ledger, graph, ingestor).subscriptions.ensure_all()
            stop = threading.Event()
            worker = threading.Thread(target=Worker(ledger, ingestor, graph, clock=utc_now).run, args=(stop,),
                                      kwargs={"interval": args.interval}, daemon=True)
            worker.start()
            control.delete("/requests").raise_for_status()
            changes, elapsed = drive(Driver(emu.graph_url, businesses, args.seed), args.changes, args.rate)
            drain(control, engine)
            counts = control.get("/requests").json()
            stop.set()
            worker.join(10)
            lags = idle_lags(args, control, settings, graph, ledger, emu.emulator.clock.now, ids)
        with engine.connect() as connection:
            entries = [parse_entry(body) for _, body, _ in stream_rows(connection)]
        web.shutdown()
        report(report_changes(args, changes, elapsed, entries, counts) + report_lags(args, *lags))


def idle_lags(args: argparse.Namespace, control: httpx.Client, settings, graph, live: Ledger, clock, ids: list[str]):  # type: ignore[no-untyped-def]
    """(baseline, delta) watermark figures over idle hours on Graph's warped clock (the live run's
    database and key store, read on that clock)."""
    engine = live.engine
    ledger = Ledger(engine, LedgerKeys.from_settings(settings), clock, keystore=live.keystore)
    services = sync_services(settings, ledger, graph, Ingestor(ledger, load_policy(settings.RETENTION_POLICY_FILE), clock=clock))
    baseline = simulate(control, engine, clock, ids, hours=args.idle_hours, every=timedelta(hours=6),
                        run=lambda: services.reconciler.reconcile_all(ids))
    services.delta.follow_all(ids)   # opens each link (a first round and a sweep): set-up, not counted
    delta = simulate(control, engine, clock, ids, hours=args.idle_hours,
                     every=timedelta(minutes=settings.DELTA_INTERVAL_MINUTES), run=lambda: services.delta.follow_all(ids))
    return baseline, delta


def report_lags(args: argparse.Namespace, baseline: LagFigures, delta: LagFigures) -> list[Figure]:
    """Print the lag's figures; its Figure rows (ratios to the sweeps-alone baseline)."""
    print(f"watermark lag over {args.idle_hours:g} idle hours on a warped clock, {args.businesses} businesses:")
    for name, figures in (("full sweeps every 6 h (baseline)", baseline), ("delta rounds every 4 min", delta)):
        print(f"  {name}: p50 {figures.p50 / 60:.1f} min, p95 {figures.p95 / 60:.1f} min, "
              f"{figures.requests_per_business_hour:.1f} Graph requests per business per hour")
    # The daily proof sweep (RECONCILE_INTERVAL_MINUTES 1440) still runs beside the delta rounds.
    sweep = baseline.requests_per_business_hour * 6
    total = delta.requests_per_business_hour + sweep / 24
    print(f"  plus the daily full sweep ({sweep:.0f} requests per business): {total:.1f} requests per business per hour")
    print(f"  delta against baseline: p95 lag ratio {delta.p95 / baseline.p95:.3f}, "
          f"requests ratio {delta.requests_per_business_hour / baseline.requests_per_business_hour:.2f}")
    print(f"  targets: p95 < 5 min -> ratio {delta.p95 / LAG_TARGET:.2f}; <= 20 requests per business per idle hour "
          f"-> ratio {delta.requests_per_business_hour / IDLE_REQUESTS_TARGET:.2f} (with the daily sweep {total / 20:.2f})")
    vs = f"delta rounds vs full sweeps every 6 h, {args.idle_hours:g} warped idle hours"
    return [Figure("freshness", f"watermark lag p95, {vs}", f"< {LAG_TARGET / 60:.0f} min", f"{delta.p95 / 60:.1f} min",
                   delta.p95 / baseline.p95, delta.p95 < LAG_TARGET),
            Figure("freshness", f"Graph requests per business per idle hour with the daily sweep, {vs}",
                   f"<= {IDLE_REQUESTS_TARGET:.0f}", f"{total:.1f}", total / baseline.requests_per_business_hour,
                   total <= IDLE_REQUESTS_TARGET)]


def drive(driver: Driver, count: int, rate: float) -> tuple[list[Change], float]:
    """Make `count` changes at `rate` per second (open loop: on schedule, whatever happens)."""
    started = time.perf_counter()
    changes = []
    for i in range(count):
        time.sleep(max(0.0, started + i / rate - time.perf_counter()))
        changes.append(driver.change())
    return changes, time.perf_counter() - started


def drain(control: httpx.Client, engine) -> None:  # type: ignore[no-untyped-def]
    """Wait until every notification was delivered and the inbox holds nothing due."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if control.get("/notifications").json()["pending"] == 0 and depth(engine)[0] == 0:
            time.sleep(1.5)   # a last worker cycle may still be committing
            return
        time.sleep(0.2)
    raise SystemExit("the inbox did not drain within 120 s")


def report_changes(args: argparse.Namespace, changes: list[Change], elapsed: float, entries: list[dict],
                   counts: dict[str, int]) -> list[Figure]:
    """Print the changes' figures; their Figure rows."""
    found, missing = latencies(changes, entries)
    envelopes = sum(n for key, n in counts.items() if key.startswith("POST /v1.0/$batch"))
    operations = sum(n for key, n in counts.items() if key.startswith("GET /v1.0/"))
    p50, p95 = statistics.median(found), statistics.quantiles(found, n=20)[18]
    per_change = envelopes / len(changes)
    print(f"{len(changes)} changes at {len(changes) / elapsed:.1f}/s over {args.businesses} businesses "
          f"(emulator + web app + 1 worker cycling every {args.interval} s, SQLite, loopback HTTP)")
    print(f"latency change -> ledger entry: p50 {p50:.2f} s, p95 {p95:.2f} s, max {max(found):.2f} s "
          f"({len(found)} matched; with no entry: {dict(missing) or 'none'})")
    print(f"Graph HTTP requests per change: {per_change:.3f} ({envelopes} $batch envelopes)")
    print(f"Graph operations per change (inside the envelopes): {operations / len(changes):.3f} ({operations})")
    print(f"targets: p95 < 2 s -> ratio {p95 / P95_TARGET:.2f}; <= 0.2 requests per change -> ratio {per_change / REQUESTS_TARGET:.2f}")
    at = f"{len(changes):,} changes at {args.rate:g}/s"
    # The requests' baseline is the Graph operations inside the envelopes: what unbatched reads would cost.
    return [Figure("freshness", f"change -> ledger entry, {at}", f"p95 < {P95_TARGET:.0f} s", f"p95 {p95:.2f} s (p50 {p50:.2f})",
                   None, p95 < P95_TARGET),
            Figure("freshness", f"Graph HTTP requests per change vs the operations inside them, {at}", f"<= {REQUESTS_TARGET}",
                   f"{per_change:.3f}", envelopes / operations, per_change <= REQUESTS_TARGET)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--businesses", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--interval", type=float, default=1.0, help="the worker's cycle period in seconds")
    parser.add_argument("--idle-hours", type=float, default=6.0, help="warped idle hours for the watermark's lag")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        run(args, Path(directory))
    return 0


if __name__ == "__main__":
    sys.exit(main())
