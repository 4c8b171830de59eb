"""Realistic data for the dashboard tests, written by the real ingestion into the dashboard's ledger,
and readers of what the pages must (and must not) have written."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy.orm import Session

from connector.models import Appointment, CustomerInfo
from jobs.ingest import Ingestor
from ledger.core.canonical import parse_entry
from ledger.entries import stream_rows
from state import bookings_mirror

CLINIC, SALON = "clinic@contoso.com", "salon@contoso.com"
START = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
ADA = CustomerInfo(customer_id="c-ada", name="Ada Lovelace", email="Ada.Lovelace@Example.com", phone="+44 20 7946 0018",
                   notes="Allergic to latex.", time_zone="Europe/London")
GRACE = CustomerInfo(customer_id="c-grace", name="Grace Hopper", email="grace@example.org", phone="+1 202 555 0143")


def ingest(dashboard, appointment_id: str = "a-1", *, customer: CustomerInfo = ADA, business: str = CLINIC) -> str:
    """Ingest one booking of `customer` as the worker would; the customer's subject ref."""
    appointment = Appointment(id=appointment_id, business_id=business, start=START, end=START + timedelta(minutes=30),
                              service_id="s-1", service_name="Check-up", customers=(customer,),
                              service_notes="First visit.", last_updated=START - timedelta(days=1))
    Ingestor(dashboard.ledger, dashboard.policy, clock=dashboard.clock).ingest_appointment(appointment)
    with Session(dashboard.engine) as session:
        return bookings_mirror.appointment(session, appointment_id).subjects[customer.customer_id]


def chain(dashboard, kind: str | None = None) -> list[dict]:
    with dashboard.engine.connect() as connection:
        entries = [parse_entry(body) for _, body, _ in stream_rows(connection)]
    return [e for e in entries if kind is None or e["kind"] == kind]


def links(html: str) -> list[str]:
    """Every URL the page names: links, form actions, sources."""
    return re.findall(r'(?:href|action|src)="([^"]*)"', html)


def personal_values(customer: CustomerInfo) -> list[str]:
    """The customer's values as a page could show them (and the phone's digits alone)."""
    values = [customer.name, customer.email, customer.email.lower(), customer.phone, re.sub(r"\D", "", customer.phone)]
    return [v for v in values if v] + ([customer.notes] if customer.notes else [])


def csrf_token(client, path="/subjects") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def post(client, path, **form):
    return client.post(path, data={"csrf_token": csrf_token(client), **form})


def reveal(client, ref, reason="Access request 2026-31", **headers):
    return client.post(f"/subjects/{ref}/personal-data", headers=headers,
                       data={"csrf_token": csrf_token(client), "reason": reason})


OURS = ("subjects", "records", "audit", "frame")


def link_pages_not_yet_built(app) -> None:
    """Let the layout's links to other parts' pages build before those parts are merged (their
    endpoints do not exist on this branch); a link to one of these pages must still build for real."""
    def placeholder(error, endpoint, values):
        if endpoint.split(".")[0] in OURS:
            raise error
        return f"/not-built/{endpoint}"
    app.url_build_error_handlers.append(placeholder)
