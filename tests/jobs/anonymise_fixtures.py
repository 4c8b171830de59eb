"""Booking, ingesting and planning for the anonymisation tests: real Graph calls to the emulator,
the real Ingestor, and operations planned with `plan_operation` (retention evaluation is not
what these tests are about)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from connector import GraphConnector
from jobs.anonymise import Anonymiser
from ledger.core.canonical import parse_entry
from ledger.entries import stream_rows
from ledger.transactions import Ledger
from state import anonymisation, bookings_mirror
from state.retention_dues import RetentionDue

ELEMENT = "#microsoft.graph.bookingCustomerInformation"


def person(index: int, **overrides: Any) -> dict[str, Any]:
    """A customer of an appointment with a value in every personal field."""
    # Zero-padded, so no person's value is a substring of another's ("-2" of "-20").
    return {"@odata.type": ELEMENT, "name": f"Ada Lovelace-{index:03d}", "emailAddress": f"ada{index:03d}@example.org",
            "phone": f"+44 20 7946 0{100 + index:03d}", "notes": f"Allergic to latex {index:03d}.", "timeZone": "Europe/London",
            "customQuestionAnswers": [{"questionId": "q1", "question": "Favourite engine?", "answer": f"Analytical-{index:03d}"}],
            **overrides}


@dataclass
class Bookings:
    """One seeded business in the emulator, booked through Graph and ingested into the ledger."""

    graph_url: str
    business: str
    graph: GraphConnector
    ingestor: Any
    ledger: Ledger
    control: Any

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.graph_url, headers={"Authorization": "Bearer test"}, timeout=30)

    def book(self, start: datetime, people: list[dict[str, Any]], **fields: Any) -> str:
        """Create an appointment through Graph and ingest it (with its customer records); its id."""
        state = next(b for b in self.control.state()["businesses"] if b["business"]["id"] == self.business)
        body = {"serviceId": state["services"][0]["id"], "startDateTime": _dtz(start),
                "endDateTime": _dtz(start + timedelta(minutes=30)), "serviceNotes": "First visit, bring the cards.",
                "maximumAttendeesCount": len(people), "customers": people, **fields}
        with self.http() as http:
            response = http.post(f"/solutions/bookingBusinesses/{self.business}/appointments", json=body)
        response.raise_for_status()
        appointment_id = response.json()["id"]
        self.ingest(appointment_id)
        return appointment_id

    def ingest(self, appointment_id: str) -> None:
        appointment = self.graph.bookings.appointment(self.business, appointment_id)
        self.ingestor.ingest_appointment(appointment)
        for info in appointment.customers:
            if info.customer_id:
                self.ingestor.ingest_customer(next(c for c in self.graph.bookings.customers(self.business)
                                                   if c.id == info.customer_id))

    def appointment(self, appointment_id: str) -> httpx.Response:
        with self.http() as http:
            return http.get(f"/solutions/bookingBusinesses/{self.business}/appointments/{appointment_id}")

    def customer(self, customer_id: str) -> httpx.Response:
        with self.http() as http:
            return http.get(f"/solutions/bookingBusinesses/{self.business}/customers/{customer_id}")

    def subject_of(self, appointment_id: str, index: int = 0) -> tuple[str, str]:
        """(subject ref, Bookings customer id) of the appointment's index-th customer."""
        with self.ledger.transaction() as tx:
            snapshot = bookings_mirror.appointment(tx.session, appointment_id)
        assert snapshot is not None
        key = list(snapshot.subjects)[index]
        return snapshot.subjects[key], key

    def plan(self, subject: str, object_type: str, object_id: str, categories: list[str] | None = None,
             cause: str = "retention") -> anonymisation.PlannedOperation:
        """Plan one operation, with the categories the subject has on the object (or those given)."""
        with self.ledger.transaction() as tx:
            if categories is None:
                categories = sorted(set(tx.session.scalars(select(RetentionDue.category).where(
                    RetentionDue.object_type == object_type, RetentionDue.object_id == object_id,
                    RetentionDue.subject_ref == subject))))
            planned = anonymisation.plan_operation(tx.session, subject_ref=subject, business_id=self.business,
                                                   object_type=object_type, object_id=object_id, categories=categories,
                                                   cause=cause, now=self.ledger.clock())
        assert planned is not None
        return planned

    def expire(self, object_type: str, object_id: str, subject: str, categories: list[str]) -> None:
        """Move these due dates into the past (as retention would find them)."""
        past = "2000-01-01T00:00:00.000000Z"
        with self.ledger.transaction() as tx:
            for row in tx.session.scalars(select(RetentionDue).where(
                    RetentionDue.object_type == object_type, RetentionDue.object_id == object_id,
                    RetentionDue.subject_ref == subject, RetentionDue.category.in_(categories))):
                row.due_at = past


def _dtz(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def entries(ledger: Ledger, kind: str) -> list[dict[str, Any]]:
    """The chain's entries of one kind, decoded."""
    with ledger.engine.connect() as connection:
        return [e for _, body, _ in stream_rows(connection) if (e := parse_entry(body))["kind"] == kind]


def anonymiser(bookings: Bookings, policy: Any) -> Anonymiser:
    return Anonymiser(bookings.ledger, bookings.graph, policy, bookings.ledger.clock)
