"""Fixtures for the jobs: a Graph emulator over loopback HTTP, the real web app on a loopback port
in a thread, a migrated ledger (SQLite and PostgreSQL), and a connector to the emulator.

The service's clock is the emulator's clock, so warping Graph's time warps the service's too.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from werkzeug.serving import make_server

from bookings_ledger.app import close_app, create_app
from connector import GraphConnector, RetryPolicy, StaticCredential
from emulator import EmulatorServer
from jobs.erasure import erase_working_state
from jobs.holds_scope import subject_scope
from ledger.transactions import Ledger, LedgerKeys
from bookings_ledger.keys import generate_all_keys

FAST = RetryPolicy(max_attempts=8, max_total=20.0, backoff_base=0.05, backoff_max=0.2, jitter=0.05)
EMULATOR_OPTIONS = {"validation_timeout_s": 5.0, "delivery_timeout_s": 2.0, "retry_initial_s": 0.1,
                    "retry_max_s": 0.5, "batch_window_s": 0.02, "reorder_delay_s": 0.2}
KEYS = generate_all_keys()


class Control:
    """The emulator's control API under /_emulator/."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.base_url + "/_emulator", timeout=60)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    def seed(self, *, businesses: int = 1, appointments: int = 20, customers: int = 10, seed: int = 5) -> list[str]:
        """Seed the tenant; the business ids."""
        return self.call("POST", "/seed", {"seed": seed, "businesses": businesses, "appointmentsPerBusiness": appointments,
                                            "customersPerBusiness": customers})["businesses"]

    def advance(self, **delta: float) -> None:
        """Warp Graph's (and so the service's) clock forward; lapsed subscriptions expire at once."""
        self.call("POST", "/clock", {"advanceSeconds": delta.get("seconds", 0) + 3600 * delta.get("hours", 0)})

    def lifecycle(self, subscription_id: str, event: str) -> None:
        self.call("POST", "/lifecycle", {"subscriptionId": subscription_id, "lifecycleEvent": event})

    def state(self) -> dict[str, Any]:
        return self.call("GET", "/state")

    def live_subscriptions(self) -> list[dict[str, Any]]:
        return self.state()["subscriptions"]


@pytest.fixture(scope="session")
def _emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(port=0, seed=3, quirk_fractional_retry_after=True, **EMULATOR_OPTIONS) as server:
        yield server


@pytest.fixture
def emulator(_emulator: EmulatorServer) -> EmulatorServer:
    """An empty emulator (data, faults, clock reset) on a loopback port."""
    with httpx.Client(base_url=_emulator.base_url + "/_emulator") as http:
        http.post("/reset").raise_for_status()
        http.post("/options", json={"quirk_fractional_retry_after": True, **EMULATOR_OPTIONS}).raise_for_status()
    return _emulator


@pytest.fixture
def control(emulator: EmulatorServer) -> Iterator[Control]:
    ctl = Control(emulator)
    yield ctl
    ctl.http.close()


@pytest.fixture
def graph_clock(emulator: EmulatorServer) -> Callable[[], datetime]:
    """The service's clock: Graph's (warpable) time."""
    return emulator.emulator.clock.now


@dataclass
class Service:
    """The service under test: its settings, ledger and web app URL."""

    settings: dict[str, str]
    ledger: Ledger
    base_url: str


def _serve(app: Any) -> tuple[Any, threading.Thread]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def service(db: Engine, database_url: str, keystore_url: str, emulator: EmulatorServer,
            graph_clock: Callable[[], datetime]) -> Iterator[Service]:
    """The web app serving webhooks on a loopback port, and a ledger on the same database."""
    from config import load_settings
    from ledger.keystore import keystore_from_settings

    overrides = {**KEYS, "DATABASE_URL": database_url, "KEYSTORE_URL": keystore_url, "GRAPH_BASE_URL": emulator.graph_url,
                 "GRAPH_CREDENTIAL": "static", "GRAPH_TENANT_ID": emulator.emulator.tenant_id}
    app = create_app(overrides, clock=graph_clock)
    server, thread = _serve(app)
    overrides["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    settings = load_settings(overrides)
    keys = LedgerKeys.from_settings(settings)
    keystore = keystore_from_settings(settings, keys.master, graph_clock)
    ledger = Ledger(db, keys, graph_clock, keystore=keystore, working_state_eraser=erase_working_state, hold_scope=subject_scope)
    yield Service(overrides, ledger, overrides["PUBLIC_BASE_URL"])
    keystore.close()
    server.shutdown()
    thread.join(5)
    close_app(app)


@pytest.fixture
def retry_policy() -> RetryPolicy:
    """The retry policy of these tests: small waits."""
    return FAST


@pytest.fixture
def graph(emulator: EmulatorServer) -> Iterator[GraphConnector]:
    """A connector to the emulator with small retry waits."""
    with GraphConnector(base_url=emulator.graph_url, credential=StaticCredential(), policy=FAST) as connector:
        yield connector


@pytest.fixture
def ingestor(service: Service) -> Any:
    """The ingestion engineer's Ingestor over the service's ledger, with the default policy."""
    from config import load_settings
    from config.retention import load_policy
    from jobs.ingest import Ingestor

    policy = load_policy(load_settings(service.settings).RETENTION_POLICY_FILE)
    return Ingestor(service.ledger, policy, clock=service.ledger.clock)


@pytest.fixture
def make_services(service: Service, graph: GraphConnector, ingestor: Any) -> Callable[..., Any]:
    """SyncServices for the given businesses (extra keyword arguments are settings)."""
    from config import load_settings
    from bookings_ledger.wiring import sync_services

    def make(businesses: list[str], **settings: Any) -> Any:
        overrides = {**service.settings, "BOOKING_BUSINESSES": ",".join(businesses), **settings}
        return sync_services(load_settings(overrides), service.ledger, graph, ingestor)

    return make


@pytest.fixture
def certificates(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The request runner's certificates, recorded instead of signed (tests/jobs/request_fixtures.py)."""
    from request_fixtures import record_certificates

    return record_certificates(monkeypatch)


@pytest.fixture
def cli(service, monkeypatch, capsys, tmp_path):
    """`bookings-ledger ARGS` in this process against the service's database and the emulator; (exit code, output)."""
    from bookings_ledger.cli import main

    for name, value in {**service.settings, "CHECKPOINT_DIR": str(tmp_path / "cp")}.items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run
