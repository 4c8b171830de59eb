"""Compare the ledger's projection of Bookings (appointments and customer records) with the
emulator's state dump, exactly."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.parse import parse_appointment, parse_customer
from jobs import classify
from ledger.transactions import Ledger
from state.bookings_mirror import ACTIVE, BookingAppointment, BookingCustomer


def projection_differences(ledger: Ledger, state: dict[str, Any]) -> list[str]:
    """Every way the ledger's active appointments differ from Graph's (empty when they are equal)."""
    key = classify.digest_key(ledger.keys.blind_index_key)
    with Session(ledger.engine) as session:
        rows = {r.appointment_id: r for r in session.scalars(select(BookingAppointment))}
    problems, graph_ids = [], set()
    for business in state["businesses"]:
        business_id = business["business"]["id"]
        for data in business["appointments"]:
            appointment = parse_appointment(data, business_id)
            graph_ids.add(appointment.id)
            problems += _compare(key, ledger.keys.phone_region, appointment, rows.get(appointment.id))
    extra = sorted(i for i, r in rows.items() if r.state == ACTIVE and i not in graph_ids)
    problems += [f"extra {i}" for i in extra]
    return problems + customer_differences(ledger, state)


def customer_differences(ledger: Ledger, state: dict[str, Any]) -> list[str]:
    """Every way the ledger's active customer records differ from Graph's customers lists."""
    key = classify.digest_key(ledger.keys.blind_index_key)
    with Session(ledger.engine) as session:
        rows = {(r.business_id, r.customer_id): r for r in session.scalars(select(BookingCustomer))}
    problems, graph_ids = [], set()
    for business in state["businesses"]:
        for data in business["customers"]:
            customer = parse_customer(data, business["business"]["id"])
            graph_ids.add((customer.business_id, customer.id))
            row = rows.get((customer.business_id, customer.id))
            expected = classify.record_digest(key, classify.customer_record(customer, ledger.keys.phone_region))
            if row is None or row.state != ACTIVE:
                problems.append(f"missing customer {customer.id}")
            elif row.digest != expected:
                problems.append(f"content of customer {customer.id}")
    problems += [f"extra customer {k[1]}" for k, r in sorted(rows.items()) if r.state == ACTIVE and k not in graph_ids]
    return problems


def _compare(key: bytes, region: str, appointment: Any, row: BookingAppointment | None) -> list[str]:
    if row is None or row.state != ACTIVE:
        return [f"missing {appointment.id}"]
    persons = classify.people(appointment, region) or [classify.booking_only(appointment)]
    expected = {p.key: list(classify.content_digests(key, appointment, p)) for p in persons}
    stored = row.digest_map()
    if {k: v[0] for k, v in expected.items()} != {k: v[0] for k, v in stored.items()}:
        return [f"content {appointment.id}"]
    return []
