"""The notification pipeline under test: emulator → web app → inbox → Worker → ledger, driven by hand."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from jobs.worker import Worker
from ledger.core.canonical import parse_entry
from ledger.entries import stream_rows
from state.inbox import InboxRow


@dataclass
class Pipeline:
    """One subscribed business, a worker, and the ledger they write."""

    worker: Worker
    control: Any
    business: str
    graph_url: str

    def _http(self) -> httpx.Client:
        return httpx.Client(base_url=self.graph_url, headers={"Authorization": "Bearer test"}, timeout=30)

    def _path(self, *tail: str) -> str:
        return "/".join(("/solutions/bookingBusinesses", self.business, *tail))

    def book(self, start: datetime, *, customers: int = 1, email: str = "ada@example.com",
             person: dict[str, Any] | None = None, fields: dict[str, Any] | None = None) -> str:
        """Create an appointment through Graph; its id. `person` overrides the first customer's
        members, `fields` the appointment's."""
        business = next(b for b in self.control.state()["businesses"] if b["business"]["id"] == self.business)
        service = business["services"][0]
        people = [{"@odata.type": "#microsoft.graph.bookingCustomerInformation", "name": f"Ada Lovelace {i}",
                   "emailAddress": email if i == 0 else f"guest{i}@example.com", "phone": "+44 20 7946 0018",
                   "notes": "Allergic to latex.", "timeZone": "Europe/London",
                   "customQuestionAnswers": [{"questionId": "q1", "question": "Age?", "answer": "36"}]}
                  for i in range(customers)]
        people[0].update(person or {})
        body = {"serviceId": service["id"], "startDateTime": _dtz(start), "endDateTime": _dtz(start + timedelta(minutes=30)),
                "serviceNotes": "First visit.", "customerNotes": "Prefers mornings.", "maximumAttendeesCount": customers,
                "customers": people, **(fields or {})}
        with self._http() as http:
            response = http.post(self._path("appointments"), json=body)
        response.raise_for_status()
        return response.json()["id"]

    def patch(self, appointment_id: str, body: dict[str, Any]) -> None:
        with self._http() as http:
            http.patch(self._path("appointments", appointment_id), json=body).raise_for_status()

    def cancel(self, appointment_id: str) -> None:
        with self._http() as http:
            http.post(self._path("appointments", appointment_id, "cancel"), json={"cancellationMessage": "Sorry."}).raise_for_status()

    def delete(self, appointment_id: str) -> None:
        with self._http() as http:
            http.delete(self._path("appointments", appointment_id)).raise_for_status()

    def settle(self) -> None:
        """Let every notification reach the inbox, then run worker cycles until nothing is due."""
        wait_delivered(self.control)   # pending counts a POST until it is answered: the inbox holds it
        while self.worker.run_once():
            pass

    def entries(self, *kinds: str) -> list[dict[str, Any]]:
        with self.worker.ledger.engine.connect() as connection:
            found = [parse_entry(body) for _, body, _ in stream_rows(connection)]
        return [e for e in found if not kinds or e["kind"] in kinds]

    def ledger_bytes(self) -> bytes:
        with self.worker.ledger.engine.connect() as connection:
            return b"".join(body for _, body, _ in stream_rows(connection))

    def inbox(self) -> list[InboxRow]:
        with Session(self.worker.ledger.engine) as session:
            return list(session.scalars(select(InboxRow).order_by(InboxRow.id)))


def wait_delivered(control: Any, timeout: float = 30.0) -> None:
    """Block until the emulator has no notification waiting to be delivered."""
    deadline = time.monotonic() + timeout
    while control.call("GET", "/notifications")["pending"]:
        if time.monotonic() > deadline:
            raise AssertionError("notifications still pending")
        time.sleep(0.05)


def _dtz(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}
