"""Benchmark: data-subject requests against the emulator, as ratios to a baseline measured in the same run.

    .venv/bin/python bench/requests.py [--appointments 200] [--businesses 3] [--notices 10000]

One person has `--appointments` appointments spread over `--businesses` seeded businesses (other
people's bookings around them); everything is ingested into a fresh SQLite ledger. Then:

  baseline   reading the person's appointments and customer records from Graph by id ($batch of
             20), nothing else: the least any export must do
  access     an access request run by the real RequestRunner: the archive (Graph read live, the
             ledger decrypted, sealed) and its certificate; seconds, HTTP requests, and both as
             ratios to the baseline
  erasure    an erasure request of the same person by the RequestRunner: every surface anonymised
             or deleted, read back, keys destroyed, certificate; seconds and Graph requests per
             surface (appointment, customer, event, mail), each item of a `$batch` counted
  notices    `bench/request_notices.measure(subjects=N)`: a material-change notice to N
             subjects, sends per second, resumed after a kill without a second send

HTTP requests are what reached the emulator outside a `$batch` (its request log, `batched: false`),
so an envelope of 20 counts once; "items" count every request inside the envelopes too.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from bookings_ledger.keys import generate_all_keys  # noqa: E402
from bookings_ledger.wiring import build_ingestor, opened_ledger  # noqa: E402
from config import load_settings  # noqa: E402
from config.retention import load_policy  # noqa: E402
from connector import GraphConnector, StaticCredential  # noqa: E402
from database.engine import create_ledger_engine, upgrade  # noqa: E402
from emulator import EmulatorServer  # noqa: E402
from jobs.requests.runner import RequestRunner  # noqa: E402
from ledger import requests  # noqa: E402
from ledger.requests import Intake, RequestRules  # noqa: E402
from state import bookings_mirror, request_runs  # noqa: E402
from bench.support.figures import Figure, report  # noqa: E402

PERSON = {"@odata.type": "#microsoft.graph.bookingCustomerInformation", "name": "Ada Lovelace",
          "emailAddress": "ada.lovelace@example.org", "phone": "+44 20 7946 0018", "notes": "Allergic to latex.",
          "timeZone": "Europe/London", "customQuestionAnswers": [{"questionId": "q1", "question": "Age?", "answer": "36"}]}
# Surfaces a Graph path belongs to, by the first matching fragment.
SURFACES = (("/appointments", "appointment"), ("/calendarView", "appointment"), ("/customers", "customer"),
            ("/events", "event"), ("/calendar", "event"), ("/messages", "mail"), ("/sendMail", "mail"))


def measure(appointments: int = 200, businesses: int = 3) -> dict[str, Any]:
    """Baseline, access export and erasure of one person's `appointments` across `businesses`: figures and ratios."""
    with tempfile.TemporaryDirectory() as directory, EmulatorServer(port=0, seed=11, request_log_size=10_000_000) as emu, \
            httpx.Client(base_url=emu.base_url + "/_emulator", timeout=120) as control:
        permissions = control.get("/options").json()["granted_permissions"]
        control.post("/options", json={"granted_permissions": [*permissions, "Calendars.ReadWrite"]}).raise_for_status()
        ids = control.post("/seed", json={"seed": 11, "businesses": businesses, "appointmentsPerBusiness": 30,
                                          "customersPerBusiness": 10}).json()["businesses"]
        settings = _settings(directory, emu)
        with opened_ledger(settings, clock=emu.emulator.clock.now) as ledger, \
                GraphConnector(base_url=emu.graph_url, credential=StaticCredential()) as graph:
            _book(emu, control, ids, appointments)
            ingestor = build_ingestor(settings, ledger)
            for business in ids:
                _ingest(graph, ingestor, business)
            runner = RequestRunner(ledger, graph, load_policy(settings.RETENTION_POLICY_FILE), settings, ledger.clock)
            baseline = _timed(control, lambda: _read_back(ledger, graph))
            access = _timed(control, lambda: _run(ledger, runner, settings, "access"))
            erasure = _timed(control, lambda: _run(ledger, runner, settings, "erasure"))
    return {"appointments": appointments, "businesses": businesses, "baseline": baseline, "access": access,
            "erasure": erasure,
            "access_time_ratio": access["seconds"] / baseline["seconds"],
            "access_request_ratio": access["http_requests"] / baseline["http_requests"],
            "erasure_time_ratio": erasure["seconds"] / baseline["seconds"]}


def _settings(directory: str, emu: EmulatorServer) -> Any:
    settings = load_settings({**generate_all_keys(), "DATABASE_URL": f"sqlite:///{directory}/ledger.db",
                              "KEYSTORE_URL": f"sqlite:///{directory}/keys.db", "GRAPH_BASE_URL": emu.graph_url,
                              "GRAPH_CREDENTIAL": "static", "EXPORT_DIR": f"{directory}/exports",
                              "CHECKPOINT_DIR": f"{directory}/checkpoints"})
    engine = create_ledger_engine(settings.DATABASE_URL)
    upgrade(engine)
    engine.dispose()
    return settings


def _book(emu: EmulatorServer, control: httpx.Client, businesses: list[str], appointments: int) -> None:
    """The person's appointments, round-robin over the businesses, over the 100 days around now."""
    state = {b["business"]["id"]: b for b in control.get("/state").json()["businesses"]}
    now = emu.emulator.clock.now().replace(minute=0, second=0, microsecond=0)
    with httpx.Client(base_url=emu.graph_url, headers={"Authorization": "Bearer bench"}, timeout=60) as http:
        for index in range(appointments):
            business = businesses[index % len(businesses)]
            start = now + timedelta(hours=12 * index - 1200)
            body = {"serviceId": state[business]["services"][0]["id"], "startDateTime": _dtz(start),
                    "endDateTime": _dtz(start + timedelta(minutes=30)), "customers": [PERSON]}
            http.post(f"/solutions/bookingBusinesses/{business}/appointments", json=body).raise_for_status()


def _ingest(graph: GraphConnector, ingestor: Any, business: str) -> None:
    ids = [appointment.id for appointment in graph.bookings.appointments(business)]
    for item in graph.bookings.appointments_by_ids(business, ids):
        assert item.value is not None, item.error
        ingestor.ingest_appointment(item.value)
    for customer in graph.bookings.customers(business):
        ingestor.ingest_customer(customer)


def _read_back(ledger: Any, graph: GraphConnector) -> dict[str, int]:
    """The baseline: the person's appointments and customer records read from Graph by id, nothing more."""
    with ledger.transaction() as tx:
        subjects = tx.find_subjects(email=PERSON["emailAddress"])
        records = [bookings_mirror.subject_records(tx.session, subject) for subject in subjects]
    read = 0
    for business in sorted({b for r in records for b in r.business_ids}):
        appointment_ids = [a for r in records for a, owner in r.appointments.items() if owner == business]
        customer_ids = [c for r in records for owner, c in r.customers if owner == business]
        read += sum(1 for item in graph.bookings.appointment_documents(business, appointment_ids) if item.ok)
        read += sum(1 for item in graph.bookings.customer_documents(business, customer_ids) if item.ok)
    return {"objects": read}


def _run(ledger: Any, runner: RequestRunner, settings: Any, request_type: str) -> dict[str, Any]:
    """Receive, verify and queue a request of the person, and let the runner carry it out."""
    with ledger.transaction() as tx:
        request = requests.receive(tx, Intake(request_type, "cli", email=PERSON["emailAddress"]),
                                   RequestRules.from_settings(settings))
        requests.verify(tx, request.request_id, method="officer", data_points=["email"], by="bench")
        request_runs.queue_run(tx.session, request.request_id, by="bench", now=ledger.clock())
    (report,) = runner.run_queued()
    assert report.state == "done" and report.certificate_id, report
    return {"outcome": report.outcome, "counts": dict(report.counts)}


def _timed(control: httpx.Client, work: Any) -> dict[str, Any]:
    control.delete("/requests").raise_for_status()
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    log = [entry for entry in control.get("/requests/log").json() if "/_emulator/" not in entry["path"]]
    items = Counter(_surface(entry["path"]) for entry in log if not entry["path"].endswith("/$batch"))
    return {**result, "seconds": seconds, "http_requests": sum(1 for entry in log if not entry["batched"]),
            "items_per_surface": dict(items)}


def _surface(path: str) -> str:
    return next((surface for fragment, surface in SURFACES if fragment in path), "other")


def _dtz(moment: Any) -> dict[str, str]:
    return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def _notices(subjects: int) -> tuple[dict[str, Any], list[Figure]]:
    """The material-change notice benchmark (bench/request_notices.py), and its figures."""
    from bench.request_notices import figures as notice_figures, measure as measure_notices

    result = measure_notices(subjects=subjects)
    return result, notice_figures("requests", result)


def figures(result: dict[str, Any]) -> list[Figure]:
    """Access and erasure, time and HTTP requests, each against the read-back baseline (no targets were set)."""
    person = f"{result['appointments']} appointments across {result['businesses']} businesses"
    baseline, rows = result["baseline"], []
    for name in ("access", "erasure"):
        row = result[name]
        surfaces = ", ".join(f"{surface} {count}" for surface, count in sorted(row["items_per_surface"].items()))
        rows += [Figure("requests", f"{name}, {person}: time vs reading them back", "", f"{row['seconds']:.2f} s",
                        row["seconds"] / baseline["seconds"], None),
                 Figure("requests", f"{name}, {person}: HTTP requests vs reading them back", "",
                        f"{row['http_requests']} (items per surface: {surfaces})",
                        row["http_requests"] / baseline["http_requests"], None)]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, default=200)
    parser.add_argument("--businesses", type=int, default=3)
    parser.add_argument("--notices", type=int, default=10_000)
    args = parser.parse_args()
    result = measure(args.appointments, args.businesses)
    print(f"{args.appointments} appointments of one person across {args.businesses} businesses")
    print(f"{'':10} {'seconds':>9} {'HTTP requests':>14} {'x baseline time':>16} {'x baseline requests':>20}")
    baseline = result["baseline"]
    print(f"{'baseline':10} {baseline['seconds']:>9.2f} {baseline['http_requests']:>14} {1:>16.1f} {1:>20.1f}")
    for name in ("access", "erasure"):
        row = result[name]
        print(f"{name:10} {row['seconds']:>9.2f} {row['http_requests']:>14} {row['seconds'] / baseline['seconds']:>16.1f} "
              f"{row['http_requests'] / baseline['http_requests']:>20.1f}")
    for name in ("access", "erasure"):
        per_surface = ", ".join(f"{surface} {count}" for surface, count in sorted(result[name]["items_per_surface"].items()))
        print(f"{name} Graph requests per surface (items inside $batch counted): {per_surface}")
    notices, notice_figures = _notices(args.notices)
    rate, ceiling = notices["sends_per_second"], notices["graph_ceiling_sends_per_second"]
    print(f"notices   {notices['subjects']:,} subjects: {rate:.2f} sends/s, {rate / ceiling:.2f} of Graph's "
          f"{ceiling:.2f} per mailbox (10,000 requests / 10 min, 2 a send); killed after "
          f"{notices['sent_before_kill']:,} sends and resumed: {notices['sent']:,} sent, "
          f"{notices['mailed_twice']} mailed twice, {notices['never_mailed']} never mailed")
    report(figures(result) + notice_figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
