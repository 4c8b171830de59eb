"""Helpers of the overview, chart and integrity tests: the other areas' links, bookings ingested the
way the worker ingests them, and a page's tables read back as text."""
from __future__ import annotations

import re
import secrets
import sys
from datetime import datetime, timedelta, timezone
from html import unescape
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from connector.models import Appointment, CustomerInfo
from jobs.ingest import Ingestor
from ledger.checkpoint_store import CheckpointSigner, publish_checkpoint
from ledger.integrity import verify_with_settings
from state import inbox, leases, subscriptions, watermarks
from state.client_states import ClientStateKeys

sys.path.insert(0, str(Path(__file__).parents[1] / "ledger"))
from tampering import without_triggers  # noqa: E402  (tests/ledger/tampering.py: the ledger tests' tampering)

CLINIC = "clinic@contoso.com"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)   # the clock of conftest's dashboard_app
OURS = ("overview", "charts", "integrity", "frame")


def prepare(app, dashboard) -> None:
    """What every test of these pages needs: the other areas' links, and the clock it counts on."""
    assert dashboard.clock() == NOW
    link_pages_not_yet_built(app)


def link_pages_not_yet_built(app) -> None:
    """Let the layout's links to other parts' pages build before those parts are merged (their
    endpoints do not exist on this branch); a link to one of ours must still build for real."""
    def placeholder(error, endpoint, values):
        if endpoint.split(".")[0] in OURS:
            raise error
        return f"/not-built/{endpoint}"
    app.url_build_error_handlers.append(placeholder)


def ingest(dashboard, appointment_id: str, *, start: datetime, customer_number: int = 1, business: str = CLINIC) -> None:
    """Ingest one booking of one customer, as the worker does."""
    customer = CustomerInfo(customer_id=f"c-{customer_number}", name=f"Person Number{customer_number}",
                            email=f"person{customer_number}@example.org", phone=f"+44 20 7946 {customer_number:04d}")
    appointment = Appointment(id=appointment_id, business_id=business, start=start, end=start + timedelta(minutes=30),
                              service_id="s-1", service_name="Check-up", customers=(customer,),
                              last_updated=start - timedelta(days=1))
    Ingestor(dashboard.ledger, dashboard.policy, clock=dashboard.clock).ingest_appointment(appointment)


def table_rows(html: str, caption_or_heading: str) -> list[list[str]]:
    """The cells of each body row of the first table after `caption_or_heading`, as text."""
    section = html[html.index(caption_or_heading):]
    body = section[section.index("<tbody>"):section.index("</tbody>")]
    return [[unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def in_order(dashboard, now: datetime) -> None:
    """A service in good health at `now`: a live subscription for CLINIC that was just heard from, a
    fresh watermark, a successful job run, a checkpoint and a successful verify."""
    with Session(dashboard.engine) as session, session.begin():
        subscriptions.save_subscription(
            session, ClientStateKeys(secrets.token_bytes(32)), subscription_id="sub-1", business_id=CLINIC,
            resource=f"/users/{CLINIC}/events", client_state="s" * 32, expires_at=now + timedelta(days=3), now=now)
        watermarks.complete_sweep(session, CLINIC, started=now - timedelta(minutes=10), now=now, appointments=1, changes=0)
    inbox.accept(dashboard.engine, [inbox.InboxItem("change", "sub-1", "updated", f"Users/{CLINIC}/Events/e-1", "e-1", "v1")],
                 now - timedelta(minutes=5))
    run = leases.start_run(dashboard.engine, "reconcile", "scheduler-1", now - timedelta(minutes=12))
    leases.finish_run(dashboard.engine, run, now - timedelta(minutes=10), outcome="ok", detail={})
    publish_checkpoint(dashboard.engine, CheckpointSigner.from_settings(dashboard.settings), now - timedelta(minutes=30),
                       dashboard.settings.CHECKPOINT_DIR)
    assert verify_with_settings(dashboard.engine, dashboard.settings, clock=lambda: now).ok


def tamper_body(engine, seq: int) -> None:
    """Rewrite one entry's body behind the triggers, its stored hash kept (tests/ledger/tampering.py)."""
    with without_triggers(engine) as connection:
        body = connection.execute(text("SELECT body FROM ledger_entries WHERE seq = :seq"), {"seq": seq}).scalar()
        connection.execute(text("UPDATE ledger_entries SET body = :body WHERE seq = :seq"),
                           {"body": body.replace(b"collected", b"cancelled"), "seq": seq})
