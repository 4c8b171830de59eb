"""Microsoft Bookings through Graph: businesses, appointments and customers.

Every call for one business counts against its scheduling mailbox (at most 4 in flight).
Lists stream page by page and never send `$top` (with it Graph drops the nextLink, §1.5);
date ranges use calendarView rather than `$filter`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode

from .batch import BatchRequest, BatchResponse, relative_url, unique_ids
from .errors import GraphError
from .models import (
    Appointment, AppointmentUpdate, Business, Customer, CustomerUpdate, ItemResult,
)
from .parse import parse_appointment, parse_business, parse_customer
from .session import GraphSession

ROOT = "/solutions/bookingBusinesses"


def _segment(value: str) -> str:
    return quote(value, safe="@")


def _canonical(normalise: Callable[[str], str], value: str) -> str | None:
    try:
        return normalise(value)
    except ValueError:
        return None


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("calendarView bounds need a timezone: the offset decides the window")
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class Bookings:
    """Reads and writes on booking businesses; every method is synchronous and thread-safe."""

    def __init__(self, session: GraphSession) -> None:
        self._session = session

    def _path(self, business_id: str, *tail: str) -> str:
        return "/".join((ROOT, _segment(business_id), *(_segment(t) for t in tail)))

    def businesses(self) -> list[Business]:
        """The booking businesses the app can see (Graph fills only id and display name)."""
        return list(self._session.items(ROOT, parse_business, mailbox=None))

    def business(self, business_id: str) -> Business:
        """One booking business."""
        return parse_business(self._session.get(self._path(business_id), mailbox=business_id))

    def appointment(self, business_id: str, appointment_id: str) -> Appointment:
        """One appointment, with the fields only GET-by-id returns (notes, customers[] in full)."""
        data = self._session.get(self._path(business_id, "appointments", appointment_id), mailbox=business_id)
        return parse_appointment(data, business_id)

    def appointments(self, business_id: str) -> Iterator[Appointment]:
        """Every appointment of the business, streamed page by page."""
        return self._session.items(
            self._path(business_id, "appointments"), lambda d: parse_appointment(d, business_id), mailbox=business_id
        )

    def calendar_view(self, business_id: str, start: datetime, end: datetime) -> Iterator[Appointment]:
        """Appointments overlapping [start, end), streamed; both bounds must be timezone-aware."""
        return self._session.items(
            self._path(business_id, "calendarView"), lambda d: parse_appointment(d, business_id),
            mailbox=business_id, params={"start": _iso(start), "end": _iso(end)},
        )

    def appointments_by_ids(self, business_id: str, appointment_ids: Iterable[str]) -> Iterator[ItemResult[Appointment]]:
        """GET each appointment by id, 20 to a $batch; a failed item carries its error."""
        requests = (BatchRequest(id=aid, method="GET", url=self._path(business_id, "appointments", aid))
                    for aid in unique_ids(appointment_ids))
        for answer in self._session.batch(requests, mailbox=business_id):
            value = parse_appointment(answer.body, business_id) if answer.error is None else None
            yield ItemResult(id=answer.id, value=value, error=answer.error)

    def appointment_documents(self, business_id: str, appointment_ids: Iterable[str]) -> Iterator[ItemResult[dict[str, Any]]]:
        """GET each appointment by id as Graph's JSON, whole, 20 to a $batch: a PATCH of customers[]
        must send the other customers back with every field as read, which no parsed model keeps."""
        requests = (BatchRequest(id=aid, method="GET", url=self._path(business_id, "appointments", aid))
                    for aid in unique_ids(appointment_ids))
        return (item_result(answer, answer.body) for answer in self._session.batch(requests, mailbox=business_id))

    def customer_documents(self, business_id: str, customer_ids: Iterable[str]) -> Iterator[ItemResult[dict[str, Any]]]:
        """GET each customer record by id as Graph's JSON, 20 to a $batch."""
        requests = (BatchRequest(id=cid, method="GET", url=self._path(business_id, "customers", cid))
                    for cid in unique_ids(customer_ids))
        return (item_result(answer, answer.body) for answer in self._session.batch(requests, mailbox=business_id))

    def calendar_views(
        self, business_id: str, windows: Sequence[tuple[datetime, datetime]]
    ) -> list[ItemResult[tuple[Appointment, ...]]]:
        """Several calendarView windows at once, in `$batch` rounds (one round per page depth,
        nextLinks followed): per window, in the order given (id = its index), every appointment
        listed, or the error that stopped it."""
        listed: dict[str, list[Appointment]] = {str(i): [] for i in range(len(windows))}
        errors: dict[str, GraphError] = {}
        pending = {str(i): f"{self._path(business_id, 'calendarView')}?{urlencode({'start': _iso(start), 'end': _iso(end)})}"
                   for i, (start, end) in enumerate(windows)}
        while pending:
            requests = [BatchRequest(id=rid, method="GET", url=url) for rid, url in pending.items()]
            pending = {}
            for answer in self._session.batch(requests, mailbox=business_id):
                if answer.error is not None:
                    errors[answer.id] = answer.error
                    continue
                listed[answer.id] += [parse_appointment(item, business_id) for item in answer.body.get("value", ())]
                if answer.body.get("@odata.nextLink"):
                    pending[answer.id] = relative_url(answer.body["@odata.nextLink"])
        return [ItemResult(id=rid, value=None if rid in errors else tuple(items), error=errors.get(rid))
                for rid, items in listed.items()]

    def customers(self, business_id: str) -> Iterator[Customer]:
        """Every customer record of the business, streamed page by page."""
        return self._session.items(
            self._path(business_id, "customers"), lambda d: parse_customer(d, business_id), mailbox=business_id
        )

    def customers_by_email(self, business_id: str, email: str, normalise: Callable[[str], str]) -> list[Customer]:
        """Customers whose email has the same canonical form as `email` under `normalise`
        (Bookings has no reliable `$filter`, so every record is read).

        The connector never normalises on its own: the caller passes the ledger's normaliser
        (`ledger.identifiers.normalise_email`), so Graph-side and ledger lookups cannot disagree.
        Its ValueError for `email` reaches the caller; a record whose address has no canonical
        form matches nothing.
        """
        wanted = normalise(email)
        return [c for c in self.customers(business_id) if c.email and _canonical(normalise, c.email) == wanted]

    def update_appointment(self, business_id: str, appointment_id: str, update: AppointmentUpdate) -> None:
        """PATCH an appointment (customers[], service notes); safe to retry."""
        self._session.send("PATCH", self._path(business_id, "appointments", appointment_id),
                           mailbox=business_id, body=update.to_json())

    def delete_appointment(self, business_id: str, appointment_id: str) -> None:
        """DELETE an appointment (no email to the customer); NotFound may mean it is already gone."""
        self._session.send("DELETE", self._path(business_id, "appointments", appointment_id), mailbox=business_id)

    def cancel_appointment(self, business_id: str, appointment_id: str, message: str) -> None:
        """Cancel an appointment, which emails the customer and staff; OutcomeUnknown on a timeout."""
        self._session.send("POST", self._path(business_id, "appointments", appointment_id, "cancel"),
                           mailbox=business_id, body={"cancellationMessage": message})

    def update_customer(self, business_id: str, customer_id: str, update: CustomerUpdate) -> None:
        """PATCH a customer record; safe to retry."""
        self._session.send("PATCH", self._path(business_id, "customers", customer_id),
                           mailbox=business_id, body=update.to_json())

    def delete_customer(self, business_id: str, customer_id: str) -> None:
        """DELETE a customer record; NotFound may mean it is already gone."""
        self._session.send("DELETE", self._path(business_id, "customers", customer_id), mailbox=business_id)

    def delete_appointments(self, business_id: str, appointment_ids: Iterable[str]) -> Iterator[ItemResult[None]]:
        """DELETE appointments, 20 to a $batch; a 404 item is reported as NotFound, not raised.
        Batched writes are sent once (see `_writes`)."""
        requests = (BatchRequest(id=aid, method="DELETE", url=self._path(business_id, "appointments", aid), idempotent=False)
                    for aid in unique_ids(appointment_ids))
        return self._writes(business_id, requests)

    def update_appointments(
        self, business_id: str, updates: Mapping[str, AppointmentUpdate | Mapping[str, Any]]
    ) -> Iterator[ItemResult[None]]:
        """PATCH appointments, 20 to a $batch; an update is an AppointmentUpdate or a whole JSON body
        (a customers[] copy-back built from `appointment_documents`)."""
        requests = (BatchRequest(id=aid, method="PATCH", url=self._path(business_id, "appointments", aid),
                                 body=update.to_json() if isinstance(update, AppointmentUpdate) else dict(update),
                                 idempotent=False) for aid, update in updates.items())
        return self._writes(business_id, requests)

    def delete_customers(self, business_id: str, customer_ids: Iterable[str]) -> Iterator[ItemResult[None]]:
        """DELETE customer records, 20 to a $batch (a 5xx may still have deleted: read back)."""
        requests = (BatchRequest(id=cid, method="DELETE", url=self._path(business_id, "customers", cid), idempotent=False)
                    for cid in unique_ids(customer_ids))
        return self._writes(business_id, requests)

    def _writes(self, business_id: str, requests: Iterable[BatchRequest]) -> Iterator[ItemResult[None]]:
        # Sent once: a timeout or a 5xx leaves the outcome unknown, and the caller reads Graph back
        # rather than re-send blindly (a 429 or 503, refused before Graph acted, is still retried).
        return (item_result(answer, None) for answer in self._session.batch(requests, mailbox=business_id))


def item_result(answer: BatchResponse, value: Any) -> ItemResult[Any]:
    """A batch item's outcome, with its status and request id as evidence; `value` only on success."""
    return ItemResult(id=answer.id, value=value if answer.error is None else None, error=answer.error,
                      status=answer.status, request_id=answer.request_id)
