"""How fast POST /webhooks/graph answers Graph, against a bare Flask endpoint that only says 202.

One command: `.venv/bin/python bench/webhook_ack.py` measures the inbox on SQLite, then on
PostgreSQL (`--postgresql URL`, default TEST_DATABASE_URL or the local test server; skipped with a
note when unreachable). Both apps run under the same gunicorn setup as `bookings-ledger serve`
(gthread workers), each in its own process; the load comes from another process. Throughput is
measured in alternating rounds (bare, ledger, bare, ledger …) so that whatever else the shared
machine does lands on both alike; printed: each round's saturated throughput (closed loop,
keep-alive connections), the median of the rounds' ratios (target >= 0.6), and p50/p99 latency
at a fixed 300 requests/s (target p99 < 50 ms), then the figures for `make bench`.
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.support.figures import Figure, report  # noqa: E402

from bench.support.schemas import postgres_schema  # noqa: E402
from database.engine import create_ledger_engine, upgrade  # noqa: E402
from state.client_states import ClientStateKeys  # noqa: E402
from state.subscriptions import save_subscription  # noqa: E402

CLIENT_STATE = "bench-client-state-" + "x" * 40
SUBSCRIPTION = "4f3e2d1c-0b9a-4887-9665-5443322110ff"   # Graph's ids are GUIDs; anything else is refused
TENANT = "6f1b8c2e-3d4a-4b5c-9e8f-7a6b5c4d3e2f"
LOCAL_POSTGRESQL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PORTS = {"SQLite": {"bare": 18301, "ledger": 18302}, "PostgreSQL": {"bare": 18303, "ledger": 18304}}
TARGET_RATIO, TARGET_P99_SECONDS = 0.6, 0.050


def bare_app():
    from flask import Flask

    app = Flask("bare")

    @app.post("/webhooks/graph")
    def accept():
        return "", 202

    return app


def serve(kind: str, port: int, settings: dict[str, str], workers: int) -> None:
    os.environ.update(settings)
    from bookings_ledger.app import close_app, create_app
    from bookings_ledger.gunicorn import serve as run

    binds = [f"127.0.0.1:{port}"]
    if kind == "ledger":   # as `bookings-ledger serve` runs it, its worker exit draining the inbox writer
        run(create_app, binds=binds, workers=workers, threads=8, close=close_app)
    else:
        run(bare_app, binds=binds, workers=workers, threads=8)


def body() -> bytes:
    event = uuid.uuid4().hex
    item = {"subscriptionId": SUBSCRIPTION, "clientState": CLIENT_STATE, "changeType": "updated",
            "resource": f"Users/clinic@contoso.com/Events/{event}", "tenantId": TENANT,
            "subscriptionExpirationDateTime": "2030-01-01T00:00:00Z",
            "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": event, "@odata.etag": 'W/"1"'}}
    return json.dumps({"value": [item]}).encode()


def post(connection: http.client.HTTPConnection) -> float:
    started = time.perf_counter()
    connection.request("POST", "/webhooks/graph", body=body(), headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    if response.status != 202:
        raise RuntimeError(f"answer {response.status}")
    return time.perf_counter() - started


def closed_loop(port: int, seconds: float, threads: int, out) -> None:
    """Each thread posts as fast as answers come back, for `seconds`."""
    counts = []
    deadline = time.perf_counter() + seconds

    def worker():
        connection, done = http.client.HTTPConnection("127.0.0.1", port), 0
        while time.perf_counter() < deadline:
            post(connection)
            done += 1
        counts.append(done)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    [t.start() for t in pool]
    [t.join() for t in pool]
    out.put(sum(counts) / seconds)


def open_loop(port: int, rate: float, seconds: float, out) -> None:
    """Requests started on a fixed schedule, whatever the answers do; latencies from schedule."""
    latencies, lock = [], threading.Lock()
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    slots = iter(range(total))
    slot_lock = threading.Lock()

    def worker():
        connection = http.client.HTTPConnection("127.0.0.1", port)
        while True:
            with slot_lock:
                slot = next(slots, None)
            if slot is None:
                return
            due = start + slot / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            post(connection)
            with lock:
                latencies.append(time.perf_counter() - due)

    pool = [threading.Thread(target=worker) for _ in range(32)]
    [t.start() for t in pool]
    [t.join() for t in pool]
    latencies.sort()
    out.put((statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]))


def in_process(target, *args):
    queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get(timeout=600)
    process.join()
    return result


def wait_until_up(port: int) -> None:
    for _ in range(200):
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/")
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not start")


def reachable(postgresql: str) -> bool:
    try:
        with create_engine(postgresql).connect():
            return True
    except OperationalError:
        return False


@contextmanager
def database_url(directory: Path, postgresql: str | None):
    """SQLite in the temporary directory, or a fresh schema on the PostgreSQL server given (dropped after)."""
    if not postgresql:
        yield f"sqlite:///{directory / 'ledger.db'}"
        return
    with postgres_schema(postgresql) as url:
        yield url


def prepare(url: str) -> dict[str, str]:
    key = os.urandom(32)
    engine = create_ledger_engine(url)
    upgrade(engine)
    now = datetime.now(timezone.utc)
    with Session(engine) as session, session.begin():
        save_subscription(session, ClientStateKeys(key), subscription_id=SUBSCRIPTION, business_id="clinic@contoso.com",
                          resource="users/clinic@contoso.com/events", client_state=CLIENT_STATE,
                          expires_at=now + timedelta(days=2), now=now)
    engine.dispose()
    return {"DATABASE_URL": url, "CLIENT_STATE_KEY": base64.b64encode(key).decode(), "GRAPH_TENANT_ID": TENANT}


@dataclass
class Measured:
    rounds: list[dict[str, float]]              # each round's req/s of "bare" and "ledger"
    latency: dict[str, tuple[float, float]]     # (p50, p99) seconds at the fixed rate, of each app

    @property
    def ratios(self) -> list[float]:
        return [result["ledger"] / result["bare"] for result in self.rounds]


def measure(store: str, postgresql: str | None, args: argparse.Namespace) -> Measured:
    ports = PORTS[store]
    with tempfile.TemporaryDirectory() as directory, database_url(Path(directory), postgresql) as url:
        settings = prepare(url)
        servers = [multiprocessing.Process(target=serve, args=(kind, port, settings, args.workers), daemon=True)
                   for kind, port in ports.items()]
        [server.start() for server in servers]
        try:
            for port in ports.values():
                wait_until_up(port)
                in_process(closed_loop, port, 1.0, 8)  # warm-up: imports, connection pools
            rounds = [{kind: in_process(closed_loop, port, args.seconds, 8) for kind, port in ports.items()}
                      for _ in range(args.rounds)]
            latency = {kind: in_process(open_loop, port, args.rate, args.seconds) for kind, port in ports.items()}
        finally:
            for server in servers:
                server.terminate()
                server.join(10)
    return Measured(rounds, latency)


def print_detail(store: str, measured: Measured, args: argparse.Namespace) -> None:
    print(f"inbox on {store}; gunicorn gthread, {args.workers} workers x 8 threads for both apps; load from another process")
    print(f"{'round':<8}{'bare req/s':>12}{'ledger req/s':>14}{'ratio':>8}")
    for number, (result, ratio) in enumerate(zip(measured.rounds, measured.ratios), 1):
        print(f"{number:<8}{result['bare']:>12.0f}{result['ledger']:>14.0f}{ratio:>8.2f}")
    bare, ledger = measured.latency["bare"], measured.latency["ledger"]
    print(f"latency at {args.rate:.0f} req/s: bare p50 {bare[0] * 1000:.1f} ms, p99 {bare[1] * 1000:.1f} ms;"
          f" POST /webhooks/graph p50 {ledger[0] * 1000:.1f} ms, p99 {ledger[1] * 1000:.1f} ms")
    ratios = measured.ratios
    print(f"throughput ratio, median of {len(ratios)} rounds: {statistics.median(ratios):.2f} "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}; target >= {TARGET_RATIO:.2f})   "
          f"p99 at {args.rate:.0f}/s: {ledger[1] * 1000:.1f} ms (target < {TARGET_P99_SECONDS * 1000:.0f})")


def figures(store: str, measured: Measured, rate: float) -> list[Figure]:
    """The ratio is itself against the bare endpoint of the same run; the p99's baseline is the bare p99."""
    ratio = statistics.median(measured.ratios)
    ledger_rps = statistics.median(result["ledger"] for result in measured.rounds)
    p99, bare_p99 = measured.latency["ledger"][1], measured.latency["bare"][1]
    return [
        Figure("webhook_ack", f"ack throughput vs bare Flask, {store}", f">= {TARGET_RATIO:.2f}",
               f"{ratio:.2f} of bare ({ledger_rps:,.0f} req/s)", ratio, ratio >= TARGET_RATIO),
        Figure("webhook_ack", f"ack p99 at {rate:.0f} req/s, {store}", f"p99 < {TARGET_P99_SECONDS * 1000:.0f} ms",
               f"{p99 * 1000:.1f} ms", p99 / bare_p99, p99 < TARGET_P99_SECONDS),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each measurement")
    parser.add_argument("--rounds", type=int, default=5, help="alternating throughput rounds of each app")
    parser.add_argument("--rate", type=float, default=300.0, help="requests/s for the latency run")
    parser.add_argument("--postgresql", metavar="URL", default=os.environ.get("TEST_DATABASE_URL", LOCAL_POSTGRESQL),
                        help="the PostgreSQL server for the second measurement (a fresh schema, dropped after)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes of both apps")
    args = parser.parse_args()
    stores: dict[str, str | None] = {"SQLite": None}
    if reachable(args.postgresql):
        stores["PostgreSQL"] = args.postgresql
    else:
        print(f"PostgreSQL at {make_url(args.postgresql).render_as_string()} unreachable: measured on SQLite only")
    rows = []
    for store, postgresql in stores.items():
        measured = measure(store, postgresql, args)
        print_detail(store, measured, args)
        rows += figures(store, measured, args.rate)
    report(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
