"""A request's run SIGKILLed again and again (at a Graph answer before it is recorded, or at a step
boundary) and restarted: the future appointment is cancelled once (one mail), the request is
completed once and certified once, nothing of the subject is left in Graph, the chain verifies."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import pytest

from anonymise_fixtures import Bookings, entries, person
from config import load_settings
from ledger.integrity import verify_with_settings
from request_fixtures import verified_request

DRIVER = Path(__file__).with_name("request_crash_driver.py")


@pytest.fixture
def bookings(control: Any, service: Any, graph: Any, ingestor: Any, emulator: Any) -> Iterator[Bookings]:
    size = control.call("GET", "/options")["request_log_size"]
    control.call("POST", "/options", {"request_log_size": 20_000})    # every request of every run, logged
    business = control.seed(appointments=0, customers=0)[0]
    yield Bookings(emulator.graph_url, business, graph, ingestor, service.ledger, control)
    control.call("POST", "/options", {"request_log_size": size})


def _run(settings: dict[str, str], mode: str, n: int) -> int:
    done = subprocess.run([sys.executable, str(DRIVER), json.dumps(settings), mode, str(n)], timeout=120,
                          cwd=Path(__file__).parents[2], capture_output=True, text=True)
    assert done.returncode in (0, -signal.SIGKILL), done.stderr[-2000:]
    return done.returncode


def test_a_request_run_killed_anywhere_does_each_thing_once(bookings: Bookings, service: Any, control: Any,
                                                            tmp_path: Path) -> None:
    ada = person(21)
    now = bookings.ledger.clock().replace(microsecond=0)
    past, future = bookings.book(now - timedelta(days=20), [ada]), bookings.book(now + timedelta(days=9), [ada])
    request_id = verified_request(bookings, service, "erasure", email=ada["emailAddress"], choices={future: "cancel"})
    mailed = len(control.call("GET", f"/mail?recipient={ada['emailAddress']}"))
    settings = {**service.settings, "CHECKPOINT_DIR": str(tmp_path / "checkpoints"), "EXPORT_DIR": str(tmp_path / "x")}
    control.call("DELETE", "/requests")
    kills = 0
    for n in range(1, 40):
        if _run(settings, "call" if n % 2 else "step", (n + 1) // 2) == 0:
            break
        kills += 1
    assert kills >= 6, f"the run ended after {kills} kills: the kill points are not inside it"
    assert _run(settings, "step", 10_000) == 0                     # one more run, to the end: nothing left to do

    assert len(control.call("GET", f"/mail?recipient={ada['emailAddress']}")) == mailed + 1
    cancels = [r for r in control.call("GET", "/requests/log") if r["method"] == "POST" and r["path"].endswith("/cancel")]
    assert len(cancels) == 1, cancels     # a lost answer is settled by reading the appointment, never re-sent
    assert bookings.appointment(future).status_code == 404 and bookings.appointment(past).status_code == 404
    hits = [h for v in (ada["name"], ada["emailAddress"], ada["phone"]) for h in control.call("GET", f"/search?text={v}")["hits"]
            if not h["recoverable"] and h["surface"] != "mail"]
    assert hits == []
    mine = [e for e in entries(bookings.ledger, "request-completed") if e["refs"]["request"] == request_id]
    certified = [e for e in entries(bookings.ledger, "certificate-issued") if e["refs"]["request"] == request_id]
    started = [e for e in entries(bookings.ledger, "request-started") if e["refs"]["request"] == request_id]
    assert (len(started), len(mine), len(certified)) == (1, 1, 1)
    assert len([e for e in entries(bookings.ledger, "erased")]) == 1
    # The certificate signed a checkpoint: the chain is verified against it too.
    assert verify_with_settings(bookings.ledger.engine, load_settings(settings), clock=bookings.ledger.clock).ok
