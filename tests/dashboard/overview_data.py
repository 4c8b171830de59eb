"""Helpers of the overview, chart and integrity tests: the other areas' links, bookings ingested the
way the worker ingests them, and a page's tables read back as text."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html import unescape

from connector.models import Appointment, CustomerInfo
from jobs.ingest import Ingestor

CLINIC = "clinic@contoso.com"
OURS = ("overview", "charts", "integrity", "frame")


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
