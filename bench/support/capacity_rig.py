"""The capacity bench's rig and counters: one subscribed tenant on the emulator over loopback
HTTP, the real web app receiving its notifications into the inbox, and a `Worker` the bench
drives cycle by cycle, so every cost of a booking change can be counted where it happens.

    with Rig(database_url, directory, businesses=2) as rig:
        with rig.tally(changes=1) as cost:  # counts everything between entry and exit
            rig.driver.create(rig.businesses[0])
            rig.settle()                     # notifications in, then worker cycles until the inbox is empty
        cost                                 # notifications, Graph requests, ledger entries, writes

Graph requests are read from the emulator's request log, which records every request with its
`client-request-id`: the driver tags its own, so what is left is the service's. Database writes
are counted twice over, because neither view alone sees everything: rows per table (before and
after, whoever wrote them, the web app's raw-driver inbox insert included) and the statements and
commits that go through SQLAlchemy (the worker's whole side).
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, event, func, inspect, select, table
from werkzeug.serving import make_server

from bookings_ledger.app import close_app, create_app
from bookings_ledger.keys import generate_all_keys
from bookings_ledger.wiring import sync_services
from config import load_settings
from config.retention import load_policy
from connector import GraphConnector, StaticCredential
from database.engine import create_ledger_engine, upgrade
from emulator import EmulatorServer
from jobs.ingest import Ingestor
from jobs.worker import Worker
from ledger.core.canonical import parse_entry
from ledger.entries import stream_rows
from ledger.keystore import open_keystore
from ledger.transactions import Ledger, LedgerKeys, utc_now
from state.inbox import depth

DRIVER = "capacity-driver-"   # client-request-id prefix of the bench's own Graph requests
LOG_SIZE = 1_000_000          # the emulator's request log keeps every request of a run
WRITES = ("INSERT", "UPDATE", "DELETE")


@dataclass
class Cost:
    """What a number of booking changes cost, end to end."""

    changes: int
    notifications: int = 0                 # change notifications Graph delivered to our webhook (items)
    deliveries: int = 0                    # the POSTs that carried them
    graph_http: int = 0                    # HTTP requests the service made ($batch envelopes and direct calls)
    graph_operations: int = 0              # what Graph's throttling counts: every request inside a $batch, one by one
    entries: Counter[str] = field(default_factory=Counter)    # ledger entries by kind
    rows: Counter[str] = field(default_factory=Counter)       # net rows added per table
    statements: int = 0                    # INSERT/UPDATE/DELETE through SQLAlchemy (the worker's side)
    commits: int = 0                       # transactions committed through SQLAlchemy

    def per_change(self, value: float) -> float:
        return value / self.changes


class SqlCounter:
    """Write statements and commits of every SQLAlchemy engine in this process, while installed."""

    def __init__(self) -> None:
        self.statements = self.commits = 0
        self._lock = threading.Lock()

    def _statement(self, conn, cursor, statement: str, *args: Any) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(WRITES):
            with self._lock:
                self.statements += 1

    def _commit(self, conn) -> None:  # type: ignore[no-untyped-def]
        with self._lock:
            self.commits += 1

    @contextmanager
    def installed(self) -> Iterator[SqlCounter]:
        event.listen(Engine, "after_cursor_execute", self._statement)
        event.listen(Engine, "commit", self._commit)
        try:
            yield self
        finally:
            event.remove(Engine, "after_cursor_execute", self._statement)
            event.remove(Engine, "commit", self._commit)


class Driver:
    """Booking changes made through Graph, as staff or customers make them; tagged as the bench's."""

    def __init__(self, graph_url: str, services: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=graph_url, headers={"Authorization": "Bearer bench"}, timeout=30)
        self.services = services   # business id -> a one-attendee service id
        self.made = 0

    def create(self, business: str) -> str:
        start = datetime.now(timezone.utc) + timedelta(days=1 + self.made % 28, minutes=15 * (self.made % 96))
        body = {"serviceId": self.services[business], **_span(start), "serviceNotes": "Bench.",
                "customers": [{"@odata.type": "#microsoft.graph.bookingCustomerInformation", "name": "Bench Customer",
                               "emailAddress": f"bench{self.made}@example.com", "notes": "Bench note."}]}
        return self._send("POST", f"{_root(business)}/appointments", body).json()["id"]

    def update(self, business: str, appointment: str) -> None:
        start = datetime.now(timezone.utc) + timedelta(days=2 + self.made % 28, minutes=15 * (self.made % 96))
        self._send("PATCH", f"{_root(business)}/appointments/{appointment}", _span(start))

    def cancel(self, business: str, appointment: str) -> None:
        self._send("POST", f"{_root(business)}/appointments/{appointment}/cancel", {"cancellationMessage": "Bench."})

    def _send(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        self.made += 1
        response = self.http.request(method, path, json=body, headers={"client-request-id": DRIVER + uuid.uuid4().hex})
        response.raise_for_status()
        return response


class Rig:
    """Emulator, web app, ledger and a hand-driven worker on one database; see the module docstring."""

    def __init__(self, database_url: str, directory: Path, *, businesses: int = 2) -> None:
        # The emulator and the web app listen on ports the kernel picks (32768 and up), outside
        # every fixed range on this machine, so parallel tests and benches never collide.
        self.database_url, self.directory, self.count = database_url, directory, businesses

    def __enter__(self) -> Rig:
        self.emulator = EmulatorServer(port=0, seed=11).__enter__()
        self.control = httpx.Client(base_url=self.emulator.base_url + "/_emulator", timeout=60)
        self.businesses = self._call("POST", "/seed", {"seed": 11, "businesses": self.count, "appointmentsPerBusiness": 5,
                                                       "customersPerBusiness": 5})["businesses"]
        state = self._call("GET", "/state?appointments=false")["businesses"]
        services = {b["business"]["id"]: next(s["id"] for s in b["services"] if s["maximumAttendeesCount"] == 1) for b in state}
        self.driver = Driver(self.emulator.graph_url, services)
        self.engine = create_ledger_engine(self.database_url)
        upgrade(self.engine)
        overrides = {**generate_all_keys(), "GRAPH_TENANT_ID": self.emulator.emulator.tenant_id,
                     "DATABASE_URL": self.database_url, "GRAPH_BASE_URL": self.emulator.graph_url,
                     "GRAPH_CREDENTIAL": "static", "BOOKING_BUSINESSES": ",".join(self.businesses)}
        self.app = create_app(overrides)
        self.web = make_server("127.0.0.1", 0, self.app, threaded=True)
        threading.Thread(target=self.web.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.webhook_url = overrides["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{self.web.server_port}"
        settings = load_settings(overrides)
        keys = LedgerKeys.from_settings(settings)
        self.keystore = open_keystore(f"sqlite:///{self.directory / 'keys.db'}", keys.master)
        ledger = Ledger(self.engine, keys, utc_now, keystore=self.keystore)
        ingestor = Ingestor(ledger, load_policy(settings.RETENTION_POLICY_FILE), clock=utc_now)
        self.graph = GraphConnector(base_url=self.emulator.graph_url, credential=StaticCredential()).__enter__()
        sync_services(settings, ledger, self.graph, ingestor).subscriptions.ensure_all()
        self.worker = Worker(ledger, ingestor, self.graph, clock=utc_now)
        self._call("POST", "/options", {"request_log_size": LOG_SIZE})
        return self

    def __exit__(self, *exc: object) -> None:
        self.web.shutdown()
        close_app(self.app)
        self.graph.__exit__(None, None, None)
        self.keystore.close()
        self.engine.dispose()
        self.control.close()
        self.driver.http.close()
        self.emulator.__exit__(None, None, None)

    def settle(self, timeout: float = 120.0) -> float:
        """Wait until Graph has delivered a notification for every change the driver made, then
        run worker cycles until the inbox holds nothing due; the seconds the worker cycles took."""
        deadline = time.monotonic() + timeout
        # Graph's queue being empty is not enough: a POST in flight is neither queued nor logged yet.
        while sum(e["items"] for e in self._delivered(self._call("GET", "/notifications")["log"])) < self.driver.made:
            if time.monotonic() > deadline:
                raise RuntimeError("notifications still missing")
            time.sleep(0.02)
        started = time.perf_counter()
        while depth(self.engine)[0]:   # never an idle cycle: its lease query would count as work
            self.worker.run_once()
            if time.monotonic() > deadline:
                raise RuntimeError("the inbox did not drain")
        return time.perf_counter() - started

    @contextmanager
    def tally(self, changes: int) -> Iterator[Cost]:
        """Count what happens inside the block; `changes` is how many booking changes it makes."""
        cost = Cost(changes)
        self._call("DELETE", "/requests")
        delivered_before = len(self._call("GET", "/notifications")["log"])
        rows_before, entries_before = self.rows(), self.entries()
        with SqlCounter().installed() as sql:
            yield cost
        cost.statements, cost.commits = sql.statements, sql.commits
        cost.rows = self.rows() - rows_before
        cost.entries = self.entries() - entries_before
        ours = self._delivered(self._call("GET", "/notifications")["log"][delivered_before:])
        cost.notifications, cost.deliveries = sum(e["items"] for e in ours), len(ours)
        cost.graph_http, cost.graph_operations = service_requests(self._call("GET", "/requests/log"))

    def _delivered(self, log: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The change notifications of a delivery log that reached our webhook."""
        return [e for e in log if e["url"].startswith(self.webhook_url) and e["kind"] == "change" and e["outcome"] == "delivered"]

    def rows(self) -> Counter[str]:
        """Rows per table of the ledger database."""
        names = inspect(self.engine).get_table_names()
        with self.engine.connect() as connection:
            return Counter({name: connection.scalar(select(func.count()).select_from(table(name))) for name in names})

    def entries(self) -> Counter[str]:
        with self.engine.connect() as connection:
            return Counter(parse_entry(body)["kind"] for _, body, _ in stream_rows(connection))

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.control.request(method, path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None


def service_requests(log: list[dict[str, Any]]) -> tuple[int, int]:
    """(HTTP requests, Graph operations) the service made, from the emulator's request log: every
    entry but the control API's and the driver's. A `$batch` envelope is one HTTP request and no
    operation; each member is an operation, as Graph's throttling counts them."""
    ours = [e for e in log if not e["path"].startswith("/_emulator")
            and not (e["headers"].get("client-request-id") or "").startswith(DRIVER)]
    http = sum(1 for e in ours if not e["batched"])
    operations = sum(1 for e in ours if e["batched"] or "$batch" not in e["path"])
    return http, operations


def _span(start: datetime) -> dict[str, dict[str, str]]:
    end = start + timedelta(minutes=30)
    return {"startDateTime": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "endDateTime": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}}


def _root(business: str) -> str:
    return f"/solutions/bookingBusinesses/{business}"
