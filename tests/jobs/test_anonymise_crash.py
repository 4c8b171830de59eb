"""The crash test: the process running anonymisation is SIGKILLed at 50 random points and restarted.

Kill points are of three kinds, drawn at random: at the Nth Graph answer (Graph acted, the step
is not recorded yet: the `sending` window), at the Nth step record (a step boundary), and at a
random moment (the test kills the process by pid while it works). Then a last run goes to the
end. Afterwards every expired record was handled exactly once in Graph (the emulator's per-object
write log: one effective PATCH and DELETE per object and surface, never a DELETE answered 404,
which a blind re-send would get), nothing is half done (every operation done, every expired
person gone from every live surface and from the ledger), nobody was mailed, the chain verifies.
ANONYMISE_CRASH_KILLS sets the number of kills (50), ANONYMISE_CRASH_RECORDS the workload.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from anonymise_fixtures import Bookings, person
from ledger.integrity import verify_ledger
from sqlalchemy import select

from state.anonymisation import AnonymisationOperation

KILLS = int(os.environ.get("ANONYMISE_CRASH_KILLS", "50"))
# Enough work that 50 kills land before it is all done, on a quiet machine too (10 ran out at 34
# kills, 16 at 49: about three kills a record).
RECORDS = int(os.environ.get("ANONYMISE_CRASH_RECORDS", "24"))
ALL = ["account.preferences", "booking.answers", "booking.contact", "booking.details", "booking.identity", "booking.notes"]
DRIVER = Path(__file__).with_name("anonymise_crash_driver.py")


class Zygote:
    """The driver process: one forked anonymiser run per call."""

    def __init__(self, settings: dict[str, str]) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(DRIVER.parents[2]), str(DRIVER.parent)])}
        self.process = subprocess.Popen([sys.executable, str(DRIVER), json.dumps(settings)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=env)

    def run(self, mode: str, n: int = 0, *, kill_after: float | None = None) -> int:
        """Start a run; with `kill_after`, SIGKILL it by pid that many seconds in; its exit code."""
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(f"{mode} {n}\n")
        self.process.stdin.flush()
        pid = int(self.process.stdout.readline().split()[1])
        if kill_after is not None:
            time.sleep(kill_after)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass   # it finished first
        return int(self.process.stdout.readline().split()[1])

    def close(self) -> None:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.close()
        self.process.wait(30)
        self.process.stdout.close()


@pytest.fixture
def bookings(control: Any, service: Any, graph: Any, ingestor: Any, emulator: Any) -> Iterator[Bookings]:
    defaults = control.call("GET", "/options")["granted_permissions"]
    control.call("POST", "/options", {"granted_permissions": [*defaults, "Calendars.ReadWrite"],
                                      "quirk_delete_customer_500_rate": 0.5})
    business = control.seed(appointments=0, customers=0)[0]
    yield Bookings(emulator.graph_url, business, graph, ingestor, service.ledger, control)
    control.call("POST", "/options", {"granted_permissions": defaults, "quirk_delete_customer_500_rate": 0.0})


def _workload(bookings: Bookings) -> dict[str, Any]:
    """Single appointments (deleted), group ones (rewritten), and customer records; all expired."""
    start = bookings.ledger.clock().replace(microsecond=0) - timedelta(days=400)
    appointments, customers, people = [], [], []
    for index in range(RECORDS):
        group = index % 3 == 0
        people_here = [person(2 * index), person(2 * index + 1)] if group else [person(2 * index)]
        appointment_id = bookings.book(start + timedelta(hours=index), people_here)
        subject, customer_id = bookings.subject_of(appointment_id, 0)
        bookings.expire("appointment", appointment_id, subject, ALL)
        bookings.expire("customer", customer_id, subject, ALL)
        bookings.plan(subject, "appointment", appointment_id)
        bookings.plan(subject, "customer", customer_id)
        appointments.append((appointment_id, group))
        customers.append(customer_id)
        people.append(people_here[0])
    return {"appointments": appointments, "customers": customers, "people": people}


def test_anonymisation_survives_sigkill_anywhere(bookings: Bookings, service: Any) -> None:
    """Killed at random points and restarted, every record is handled exactly once and completely."""
    work = _workload(bookings)
    rng = random.Random(os.environ.get("ANONYMISE_CRASH_SEED", "11"))
    zygote = Zygote(service.settings)
    kinds: Counter[str] = Counter()
    try:
        while sum(kinds.values()) < KILLS:
            kind = rng.choice(["call", "step", "time"])
            if kind == "time":
                code = zygote.run("none", kill_after=rng.uniform(0.1, 0.6))
            else:
                code = zygote.run(kind, rng.randint(1, 8))
            assert code in (0, -signal.SIGKILL), f"run ended with {code}"
            if code == 0:
                break          # everything was done before the kill point: the rest proves nothing
            kinds[kind] += 1
        assert zygote.run("none") == 0
    finally:
        zygote.close()
    assert sum(kinds.values()) == KILLS, f"the work ran out after {kinds} kills: ANONYMISE_CRASH_RECORDS is too small"

    with bookings.ledger.transaction() as tx:
        states = Counter(tx.session.scalars(select(AnonymisationOperation.state)))
    assert states == {"done": 2 * RECORDS}, states
    _assert_exactly_once(bookings, work)
    _assert_nothing_left(bookings, work)
    assert verify_ledger(bookings.ledger.engine, verifier_key=None, origin=None, clock=bookings.ledger.clock).ok


def _effective(entries: list[dict[str, Any]], method: str) -> int:
    """Writes of `method` Graph acted on: answered 2xx, or a customer DELETE's 500 that deleted."""
    return sum(1 for e in entries if e["method"] == method and (200 <= e["status"] < 300 or e["status"] == 500))


def _assert_exactly_once(bookings: Bookings, work: dict[str, Any]) -> None:
    log = bookings.control.call("GET", "/requests/objects")
    for appointment_id, group in work["appointments"]:
        writes = [e for e in log.get(appointment_id, []) if e["method"] != "POST"]
        assert _effective(writes, "PATCH") == 1, (appointment_id, writes)
        assert _effective(writes, "DELETE") == (0 if group else 1), (appointment_id, writes)
        assert not [e for e in writes if e["status"] == 404], (appointment_id, writes)
    for customer_id in work["customers"]:
        writes = log.get(customer_id, [])
        assert _effective(writes, "DELETE") == 1 and not [e for e in writes if e["status"] == 404], (customer_id, writes)


def _assert_nothing_left(bookings: Bookings, work: dict[str, Any]) -> None:
    for who in work["people"]:
        for value in (who["name"], who["emailAddress"], who["customQuestionAnswers"][0]["answer"]):
            hits = bookings.control.call("GET", f"/search?text={value}")["hits"]
            assert [h for h in hits if not h["recoverable"]] == [], (value, hits)
        assert bookings.control.call("GET", f"/mail?recipient={who['emailAddress']}") == []
        with bookings.ledger.transaction() as tx:
            assert tx.find_subjects(email=who["emailAddress"]) == []
