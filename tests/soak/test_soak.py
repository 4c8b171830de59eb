"""The soak's short form: the whole production shape through two simulated days (run.py), part
of `make test`; `pytest -m soak tests/soak` runs it alone.

PostgreSQL as `make soak` uses it (TEST_DATABASE_URL; under CI=true run.py refuses to fall back to
SQLite). Any regression a check sees (ledger, requests, retention, subscriptions, watermark, chain,
logs, mail) fails the run, and with it this test.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DAYS = os.environ.get("SOAK_TEST_DAYS", "2")
PORT_BASE = "18650"   # the soak's range is 18600-18699; `make soak` takes 18600


@pytest.mark.slow
@pytest.mark.soak
@pytest.mark.timeout(900)
def test_two_simulated_days_of_the_production_shape_pass_every_check(tmp_path):
    """Two days of traffic, faults, lifecycle events, kills and requests end with every check passed."""
    if not os.environ.get("TEST_DATABASE_URL") and os.environ.get("CI") != "true":
        pytest.skip("the soak runs on PostgreSQL: set TEST_DATABASE_URL")
    done = subprocess.run([sys.executable, str(HERE / "run.py"), "--days", DAYS, "--seed", "14",
                           "--port-base", PORT_BASE, "--work-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=880)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-4000:]
