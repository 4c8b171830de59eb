"""Compare the ledger's projection of Bookings (appointments and customer records) with the
emulator's state dump, exactly."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from connector.parse import parse_appointment, parse_customer
from jobs import classify
from ledger.transactions import Ledger, LedgerKeys, LedgerTransaction
from state.bookings_mirror import ACTIVE, BookingAppointment, BookingCustomer


def projection_differences(ledger: Ledger, state: dict[str, Any]) -> list[str]:
    """Every way the ledger's active appointments differ from Graph's (empty when they are equal)."""
    with ledger.transaction() as tx:
        rows = {r.appointment_id: r for r in tx.session.scalars(select(BookingAppointment))}
        problems, graph_ids = [], set()
        for business in state["businesses"]:
            business_id = business["business"]["id"]
            for data in business["appointments"]:
                appointment = parse_appointment(data, business_id)
                graph_ids.add(appointment.id)
                problems += _compare(tx, ledger.keys, appointment, rows.get(appointment.id))
    extra = sorted(i for i, r in rows.items() if r.state == ACTIVE and i not in graph_ids)
    problems += [f"extra {i}" for i in extra]
    return problems + customer_differences(ledger, state)


def customer_differences(ledger: Ledger, state: dict[str, Any]) -> list[str]:
    """Every way the ledger's active customer records differ from Graph's customers lists."""
    with ledger.transaction() as tx:
        rows = {(r.business_id, r.customer_id): r for r in tx.session.scalars(select(BookingCustomer))}
        problems, graph_ids = [], set()
        for business in state["businesses"]:
            for data in business["customers"]:
                customer = parse_customer(data, business["business"]["id"])
                graph_ids.add((customer.business_id, customer.id))
                row = rows.get((customer.business_id, customer.id))
                if row is None or row.state != ACTIVE or row.subject_ref is None:
                    problems.append(f"missing customer {customer.id}")
                    continue
                key = classify.digest_key(tx.subject_secret(row.subject_ref))
                if row.digest != classify.record_digest(key, classify.customer_record(customer, ledger.keys.phone_region)):
                    problems.append(f"content of customer {customer.id}")
    problems += [f"extra customer {k[1]}" for k, r in sorted(rows.items()) if r.state == ACTIVE and k not in graph_ids]
    return problems


def _compare(tx: LedgerTransaction, keys: LedgerKeys, appointment: Any, row: BookingAppointment | None) -> list[str]:
    if row is None or row.state != ACTIVE:
        return [f"missing {appointment.id}"]
    subjects = row.subject_map()
    if any(p.key not in subjects for p in classify.people(appointment, keys.phone_region)):
        return [f"content {appointment.id}"]
    # Each customer's digest is keyed by its subject's own key; a booking without customers by the
    # blind-index-derived key (its fields describe no one).
    expected = {p.key: list(classify.content_digests(classify.digest_key(tx.subject_secret(subjects[p.key])), appointment, p))
                for p in classify.people(appointment, keys.phone_region)}
    if not expected:
        nobody = classify.booking_only(appointment)
        expected = {nobody.key: list(classify.content_digests(classify.digest_key(keys.blind_index_key), appointment, nobody))}
    stored = row.digest_map()
    if {k: v[0] for k, v in expected.items()} != {k: v[0] for k, v in stored.items()}:
        return [f"content {appointment.id}"]
    return []
