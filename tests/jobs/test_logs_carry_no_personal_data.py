"""No log line carries personal data: the ingestion pipeline's commands (`subscribe`, `sync`,
`worker --once`), each in a process of its own at LOG_LEVEL=DEBUG against the emulator over HTTP
with faults on (throttling, server errors, duplicated and reordered notifications), log every
line as JSON with the ids bound, and no customer's name, email address, phone number, street or
note appears in any of them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
import pytest

from ingestion_pipeline import wait_delivered
from personal_data_scan import personal_values, personal_values_in

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.parametrize("database_factory", ["sqlite"], indirect=True)
FAULTS = {
    # Shares a retrying client gets through (a run that gives up fails the test, not the point). No
    # 504: its outcome is unknown, so a POST /subscriptions answered 504 is rightly not re-sent and
    # `subscribe` exits 1, which is not what this test is about.
    "requests": [{"status": 429, "share": 0.1, "retry_after": 0}, {"status": 503, "share": 0.05, "retry_after": 0}],
    "notifications": {"duplicate": 0.3, "reorder": 0.3},
}


def run_logged(env: dict[str, str], *args: str) -> list[str]:
    """`bookings-ledger ARGS` in its own process; its stderr lines (it must succeed)."""
    done = subprocess.run([sys.executable, "-m", "bookings_ledger.cli", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return [line for line in done.stderr.splitlines() if line.strip()]


def test_the_pipeline_logs_ids_and_never_personal_data(service, control, tmp_path):
    businesses = control.seed(appointments=12, customers=6)
    env = {**service.settings, "BOOKING_BUSINESSES": ",".join(businesses), "CHECKPOINT_DIR": str(tmp_path / "cp"),
           "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "json"}
    control.call("POST", "/faults", FAULTS)
    lines = run_logged(env, "subscribe")
    control.call("POST", "/traffic", {"rate": 20, "count": 30, "seed": 7})
    deadline = time.monotonic() + 30
    while control.call("GET", "/traffic")["running"] and time.monotonic() < deadline:
        time.sleep(0.1)
    wait_delivered(control)
    lines += run_logged(env, "worker", "--once")
    lines += run_logged(env, "sync")
    control.call("DELETE", "/faults")

    records = [json.loads(line) for line in lines]
    assert {"subscribe", "worker", "sync"} == {record["command"] for record in records}
    assert any(record.get("inbox_rows") for record in records), "the worker named no inbox rows"
    assert {"debug", "info"} <= {record["level"] for record in records}
    values = personal_values(control.state())
    assert len(values) > 30
    text = "\n".join(lines + [json.dumps(record, ensure_ascii=False) for record in records])
    found = personal_values_in(text, values)
    assert not found, found
