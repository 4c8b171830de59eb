"""Benchmark: anonymisation against the emulator, in Graph HTTP requests per record and records per second.

    .venv/bin/python bench/anonymise.py [--appointments 1000] [--customers 200]

A seeded business (appointments with one or two customers each, drawn from a pool of customer
records) is ingested into a fresh SQLite ledger; every (appointment, customer) and every
customer record is then expired and planned, and one `Anonymiser.run()` takes them all to the
end: appointments rewritten or stripped and deleted, calendar copies checked, customer records
deleted, every surface read back, keys destroyed. HTTP requests are what reached the emulator
outside a `$batch` (its request log, `batched: false`), so an envelope of 20 counts once.
Target: at most 0.25 requests per record; the baseline of the same run is one HTTP request per Graph
operation (the requests inside the envelopes, as unbatched calls would send them).
`bench/retention.py` calls `measure_anonymisation` and `figures`.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from sqlalchemy import select, update  # noqa: E402

from bookings_ledger.keys import generate_all_keys  # noqa: E402
from bookings_ledger.wiring import build_ingestor, opened_ledger  # noqa: E402
from config import load_settings  # noqa: E402
from config.retention import load_policy  # noqa: E402
from connector import GraphConnector, StaticCredential  # noqa: E402
from database.engine import create_ledger_engine, upgrade  # noqa: E402
from emulator import EmulatorServer  # noqa: E402
from jobs.anonymise import Anonymiser  # noqa: E402
from state import anonymisation, bookings_mirror  # noqa: E402
from state.bookings_mirror import BookingAppointment, BookingCustomer  # noqa: E402
from state.retention_dues import RetentionDue  # noqa: E402
from bench.support.figures import Figure, report  # noqa: E402

TARGET = 0.25
PAST = "2000-01-01T00:00:00.000000Z"


def measure_anonymisation(appointments: int = 1000, customers: int = 200) -> dict[str, Any]:
    """Anonymise every record of a seeded business; records, HTTP requests, seconds and the ratios."""
    with tempfile.TemporaryDirectory() as directory, EmulatorServer(port=0, seed=7, request_log_size=10_000_000) as emu, \
            httpx.Client(base_url=emu.base_url + "/_emulator", timeout=120) as control:
        permissions = control.get("/options").json()["granted_permissions"]
        control.post("/options", json={"granted_permissions": [*permissions, "Calendars.ReadWrite"]}).raise_for_status()
        business = control.post("/seed", json={"seed": 7, "appointmentsPerBusiness": appointments,
                                               "customersPerBusiness": customers, "daysBack": 60, "daysAhead": 0}
                                ).json()["businesses"][0]
        settings = load_settings({**generate_all_keys(), "DATABASE_URL": f"sqlite:///{directory}/ledger.db",
                                  "KEYSTORE_URL": f"sqlite:///{directory}/keys.db", "GRAPH_BASE_URL": emu.graph_url,
                                  "GRAPH_CREDENTIAL": "static"})
        engine = create_ledger_engine(settings.DATABASE_URL)
        upgrade(engine)
        engine.dispose()
        policy = load_policy(settings.RETENTION_POLICY_FILE)
        with opened_ledger(settings, clock=emu.emulator.clock.now) as ledger, \
                GraphConnector(base_url=emu.graph_url, credential=StaticCredential()) as graph:
            _ingest(ledger, graph, build_ingestor(settings, ledger), business)
            records = _plan_everything(ledger, business)
            control.delete("/requests").raise_for_status()
            started = time.perf_counter()
            counts = Anonymiser(ledger, graph, policy, ledger.clock).run()
            seconds = time.perf_counter() - started
            log = control.get("/requests/log").json()
    graph = [entry for entry in log if "/_emulator/" not in entry["path"]]
    requests = sum(1 for entry in graph if not entry["batched"])
    operations = sum(1 for entry in graph if not entry["path"].endswith("/$batch"))
    return {"records": records, "done": counts.get("done", 0), "http_requests": requests, "graph_operations": operations,
            "seconds": seconds, "requests_per_record": requests / records, "records_per_second": records / seconds}


def figures(bench: str, result: dict[str, Any]) -> list[Figure]:
    """Requests per record (ratio to one request per operation), records done, records per second."""
    per_record, records = result["requests_per_record"], f"{result['records']:,} records"
    return [Figure(bench, f"anonymisation, {records}: HTTP requests per record, $batch vs one per operation",
                   f"<= {TARGET}", f"{per_record:.3f}", result["http_requests"] / result["graph_operations"], per_record <= TARGET),
            Figure(bench, f"anonymisation, {records}: operations done", "all", f"{result['done']:,}", None,
                   result["done"] == result["records"]),
            Figure(bench, f"anonymisation, {records}: records per second", "", f"{result['records_per_second']:,.1f}/s",
                   None, None)]


def _ingest(ledger: Any, graph: GraphConnector, ingestor: Any, business: str) -> None:
    ids = [a.id for a in graph.bookings.appointments(business)]
    for item in graph.bookings.appointments_by_ids(business, ids):
        assert item.value is not None, item.error
        ingestor.ingest_appointment(item.value)
    for customer in graph.bookings.customers(business):
        ingestor.ingest_customer(customer)


def _plan_everything(ledger: Any, business: str) -> int:
    """Expire every due date and plan one operation per (record, subject); how many."""
    with ledger.transaction() as tx:
        tx.session.execute(update(RetentionDue).values(due_at=PAST))
        planned = 0
        for row in tx.session.scalars(select(BookingAppointment).where(BookingAppointment.business_id == business)):
            for subject in set(row.subject_map().values()):
                planned += _plan(tx.session, ledger, business, "appointment", row.appointment_id, subject)
        for row in tx.session.scalars(select(BookingCustomer).where(BookingCustomer.business_id == business,
                                                                    BookingCustomer.state == bookings_mirror.ACTIVE)):
            planned += _plan(tx.session, ledger, business, "customer", row.customer_id, row.subject_ref)
    return planned


def _plan(session: Any, ledger: Any, business: str, object_type: str, object_id: str, subject: str | None) -> int:
    categories = set(session.scalars(select(RetentionDue.category).where(
        RetentionDue.object_type == object_type, RetentionDue.object_id == object_id, RetentionDue.subject_ref == subject)))
    if not subject or not categories:
        return 0
    return int(anonymisation.plan_operation(session, subject_ref=subject, business_id=business, object_type=object_type,
                                            object_id=object_id, categories=categories, cause="retention",
                                            now=ledger.clock()) is not None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=200)
    args = parser.parse_args()
    result = measure_anonymisation(args.appointments, args.customers)
    print(f"{'records':>10} {'done':>6} {'HTTP requests':>14} {'per record':>11} {'target':>7} {'records/s':>10}")
    print(f"{result['records']:>10} {result['done']:>6} {result['http_requests']:>14} "
          f"{result['requests_per_record']:>11.3f} {TARGET:>7.2f} {result['records_per_second']:>10.1f}")
    report(figures("anonymise", result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
