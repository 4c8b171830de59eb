"""Benchmark: a material-change notice to N people through the emulator, under Graph's limits,
killed part-way and resumed; in sends per second, with nobody mailed twice.

    .venv/bin/python bench/request_notices.py [--subjects 10000] [--kill-at 0.3]

N people (one subject each, an address each) are collected into a fresh SQLite ledger and a
material notice version is registered, which plans one notice each. The `notices` job then runs
in a process of its own, SIGKILLed once `--kill-at` of the notices are in the emulator's outbox,
and is resumed in this process once the dead process's claims are stale (the clock of the
resumed run is moved past CLAIM_TIMEOUT, as a real restart would find it).

The emulator enforces Outlook's per-mailbox limits (10,000 requests per 10 minutes, 4 at once:
graph-facts §3), as Graph does. Each notice costs two requests (create the draft, send it), so
Graph's ceiling is 10,000 / 600 / 2 = 8.3 sends per second per mailbox. A wait Graph asks for
(429, Retry-After) is taken on the emulator's clock instead of the wall clock, so N = 10,000 does
not take twenty real minutes: `seconds` is the wall time plus the waits so taken, and
`sends_per_second` what the service achieves under the limits, reported as a ratio to that ceiling.
`bench/requests.py` calls `measure` and `figures`.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from bookings_ledger.keys import generate_all_keys  # noqa: E402
from bookings_ledger.wiring import opened_ledger  # noqa: E402
from config import load_settings  # noqa: E402
from connector import GraphConnector, RetryPolicy, StaticCredential  # noqa: E402
from database.engine import create_ledger_engine, upgrade  # noqa: E402
from emulator import EmulatorServer  # noqa: E402
from jobs.mail_sender import CLAIM_TIMEOUT  # noqa: E402
from jobs.notices import NoticeSender, notice_progress, register_notice  # noqa: E402
from bench.support.figures import Figure, report  # noqa: E402

MAILBOX = "privacy@contoso.com"
VERSION = "2026-12-01"
NOTICE = "Privacy notice\nLast updated: December 1, 2026\n\nA material change.\n"
GRAPH_CEILING = 10_000 / 600 / 2          # sends per second one mailbox allows at two requests a send


def measure(subjects: int = 10_000, *, kill_at: float = 0.3) -> dict[str, Any]:
    """Send a material notice to `subjects` people, killed once `kill_at` of them are sent and
    resumed; sends, people mailed twice or never, seconds, sends per second and Graph's ceiling."""
    with tempfile.TemporaryDirectory() as directory, EmulatorServer(port=0, seed=7) as emu, \
            httpx.Client(base_url=emu.base_url + "/_emulator", timeout=120) as control:
        overrides = {**generate_all_keys(), "DATABASE_URL": f"sqlite:///{directory}/ledger.db",
                     "KEYSTORE_URL": f"sqlite:///{directory}/keys.db", "GRAPH_BASE_URL": emu.graph_url,
                     "GRAPH_CREDENTIAL": "static", "PRIVACY_MAILBOX": MAILBOX, "NOTICE_BATCH_SIZE": "100"}
        settings = load_settings(overrides)
        engine = create_ledger_engine(settings.DATABASE_URL)
        upgrade(engine)
        engine.dispose()
        with opened_ledger(settings) as ledger:
            _collect_people(ledger, subjects)
            planned = register_notice(ledger, NOTICE, version=VERSION, material=True).planned
        offset_before = _clock_offset(control)
        started = time.perf_counter()
        killed_after = _run_and_kill(overrides, emu.base_url, control, round(subjects * kill_at))
        restarted = datetime.now(timezone.utc) + CLAIM_TIMEOUT + timedelta(seconds=1)
        with opened_ledger(settings, clock=lambda: restarted + timedelta(seconds=time.perf_counter() - started)) \
                as ledger, _connector(emu.graph_url, emu.base_url) as graph:
            resumed = NoticeSender(ledger, graph, settings).run()
            progress = notice_progress(ledger, VERSION)
        wall = time.perf_counter() - started
        waited = _clock_offset(control) - offset_before
        recipients = Counter(address for message in control.get("/outbox").json()
                             for address in message.get("recipients", ()))
    seconds = wall + waited
    sent = sum(recipients.values())
    return {"subjects": subjects, "planned": planned, "sent": sent, "sent_before_kill": killed_after,
            "mailed_twice": sum(1 for count in recipients.values() if count > 1),
            "never_mailed": planned - len(recipients), "resumed": resumed, "progress": progress,
            "seconds": seconds, "throttled_wait_seconds": waited, "sends_per_second": sent / seconds,
            "graph_ceiling_sends_per_second": GRAPH_CEILING}


def figures(bench: str, result: dict[str, Any]) -> list[Figure]:
    """Sends per second against Graph's ceiling; people mailed twice and never (both must be 0)."""
    people = f"material-change notice to {result['subjects']:,}, killed after {result['sent_before_kill']:,} and resumed"
    ceiling = result["graph_ceiling_sends_per_second"]
    return [Figure(bench, f"{people}: sends per second vs Graph's ceiling for one mailbox", "",
                   f"{result['sends_per_second']:.2f}/s (ceiling {ceiling:.2f})", result["sends_per_second"] / ceiling, None),
            Figure(bench, f"{people}: mailed twice", "0", f"{result['mailed_twice']:,}", None, result["mailed_twice"] == 0),
            Figure(bench, f"{people}: never mailed", "0", f"{result['never_mailed']:,}", None,
                   result["never_mailed"] == 0 and result["sent"] == result["planned"])]


def _collect_people(ledger: Any, count: int) -> None:
    with ledger.transaction() as tx:
        for n in range(count):
            values = {"name": f"Person {n}", "email": f"person{n}@example.org"}
            tx.collect(tx.new_subject(), values, categories=dict.fromkeys(values, "booking.contact"), purpose="appointment")


def _run_and_kill(overrides: dict[str, str], base_url: str, control: httpx.Client, kill_at: int) -> int:
    """Run the notices job in a process of its own and SIGKILL it once `kill_at` notices went; how many had."""
    child = subprocess.Popen([sys.executable, __file__, "--child", json.dumps(overrides), base_url])
    try:
        while child.poll() is None:
            sent = len(control.get("/outbox").json())
            if sent >= kill_at:
                os.kill(child.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    return len(control.get("/outbox").json())


def _connector(graph_url: str, base_url: str) -> GraphConnector:
    """A connector whose waits for Graph's Retry-After pass on the emulator's clock, not the wall's."""
    control = httpx.Client(base_url=base_url + "/_emulator", timeout=60)

    async def wait_on_emulator_clock(seconds: float) -> None:
        control.post("/clock", json={"advanceSeconds": seconds}).raise_for_status()

    # A budget of a whole window: waiting out Graph's 10 minutes is what a throttled sender must do.
    policy = RetryPolicy(max_attempts=50, max_total=3600.0, sleep=wait_on_emulator_clock)
    return GraphConnector(base_url=graph_url, credential=StaticCredential(), policy=policy)


def _clock_offset(control: httpx.Client) -> float:
    """How far the emulator's clock runs ahead of the wall clock, in seconds."""
    now = datetime.fromisoformat(control.get("/clock").json()["now"].replace("Z", "+00:00"))
    return (now - datetime.now(timezone.utc)).total_seconds()


def _child(overrides: dict[str, str], base_url: str) -> None:
    settings = load_settings(overrides)
    with opened_ledger(settings) as ledger, _connector(settings.GRAPH_BASE_URL, base_url) as graph:
        NoticeSender(ledger, graph, settings).run()


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        _child(json.loads(sys.argv[2]), sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--kill-at", type=float, default=0.3)
    args = parser.parse_args()
    result = measure(args.subjects, kill_at=args.kill_at)
    print(json.dumps(result, indent=2, sort_keys=True))
    report(figures("request_notices", result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
