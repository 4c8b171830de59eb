"""The service as a browser meets it: the demo's seeded emulator over HTTP, one reconciliation into
a migrated SQLite ledger, and the app (webhooks and dashboard, as the demo serves them) on a real
werkzeug server on a free loopback port, with local sign-in."""
from __future__ import annotations

import json
import secrets
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool

from bookings_ledger.app import SURFACES, create_app
from bookings_ledger.demo import running_emulator, running_web_app
from bookings_ledger.keys import generate_all_keys
from bookings_ledger.wiring import opened_process, sync_services
from config import load_settings
from database.engine import create_ledger_engine, upgrade
from ledger.models import EntryIndex


@dataclass(frozen=True)
class LiveService:
    """Where the running service is, how to sign in, and a subject the emulator knows by email."""

    base_url: str
    password: str
    database_url: str
    subject_email: str
    graph_url: str
    settings: Any

    def run_queued_requests(self) -> None:
        """One run of the scheduler's `requests` job: every queued data-subject request, against the emulator."""
        with opened_process(self.settings) as process:
            services = sync_services(self.settings, process.ledger, process.graph, process.ingestor)
            services.requests.run_queued()

    def entries_of_kind(self, kind: str) -> int:
        """How many ledger entries of `kind` there are now (read beside the app, as an operator would)."""
        engine = create_engine(self.database_url, poolclass=NullPool)
        try:
            with engine.connect() as connection:
                return connection.scalar(select(func.count()).select_from(EntryIndex).where(EntryIndex.kind == kind))
        finally:
            engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def graph_get(graph_url: str, path: str) -> dict:
    """One GET on the emulator's Graph API (it accepts any bearer token unless strict)."""
    request = urllib.request.Request(f"{graph_url}{path}", headers={"Authorization": "Bearer browser-tests"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def customer_email(graph_url: str, business_id: str) -> str:
    """The email address of the first customer of `business_id` that has one, as Graph lists them."""
    customers = graph_get(graph_url, f"/solutions/bookingBusinesses/{business_id}/customers")["value"]
    return next(customer["emailAddress"] for customer in customers if customer.get("emailAddress"))


@contextmanager
def running_service(directory: Path, **extra: str) -> Iterator[LiveService]:
    """The whole service for one browser session, stopped afterwards; `extra` settings on top (the
    privacy page's test sets PRIVACY_MAILBOX)."""
    password = secrets.token_urlsafe(18)
    port = free_port()
    with running_emulator(free_port()) as (graph_url, tenant_id, businesses):
        overrides = {
            **generate_all_keys(),
            "DATABASE_URL": f"sqlite:///{directory / 'ledger.db'}",
            "KEYSTORE_URL": f"sqlite:///{directory / 'keys.db'}",
            "CHECKPOINT_DIR": str(directory / "checkpoints"),
            "GRAPH_BASE_URL": graph_url, "GRAPH_TENANT_ID": tenant_id, "GRAPH_CREDENTIAL": "static",
            "BOOKING_BUSINESSES": ",".join(businesses),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "AUTH_MODE": "local", "LOCAL_PASSWORD": password, "EXPORT_DIR": str(directory / "exports"), **extra,
        }
        settings = load_settings(overrides)
        engine = create_ledger_engine(settings.DATABASE_URL)
        upgrade(engine)
        engine.dispose()
        reconcile_once(settings)
        with running_web_app(create_app(overrides, surfaces=SURFACES), port):
            yield LiveService(f"http://127.0.0.1:{port}", password, settings.DATABASE_URL,
                              customer_email(graph_url, businesses[0]), graph_url, settings)


def reconcile_once(settings) -> None:
    """One reconciliation of every business: the ledger then holds the emulator's subjects and records."""
    with opened_process(settings) as process:
        services = sync_services(settings, process.ledger, process.graph, process.ingestor)
        services.reconciler.reconcile_all(services.businesses)
