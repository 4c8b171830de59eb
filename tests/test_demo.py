"""`bookings-ledger demo` on a fresh machine: starts everything, ingests live bookings, shows a
populated dashboard to the credentials it prints, stops cleanly."""
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path

import pytest

DEADLINE_S = 90
DASHBOARD_DEADLINE_S = 60  # the issue: a populated dashboard within a minute of `make run`
# The banner's dashboard lines: its URL, then the local accounts' password.
BANNER_DASHBOARD = re.compile(r"dashboard\s+(http://127\.0\.0\.1:\d+)/\s.*?password (\S+)", re.DOTALL)
# What the overview says of records and retention (dashboard/overview_blocks.py): live records, and
# data past its retention date, either not yet marked (the first minute) or expired and awaiting
# anonymisation. Under the default policy (years) nothing is past due; under the demo's (minutes) it is.
ACTIVE_RECORDS = re.compile(r"The ledger knows of \d+ Bookings records; (\d+) are active")
PAST_DUE = (re.compile(r"(\d+) items are past their retention date"), re.compile(r"(\d+) have expired and wait for anonymisation"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def collected_entries(database: Path) -> int:
    if not database.exists():
        return 0
    with sqlite3.connect(database) as connection:
        try:
            return connection.execute("SELECT count(*) FROM entry_index WHERE kind = 'collected'").fetchone()[0]
        except sqlite3.OperationalError:  # not migrated yet
            return 0


class DemoOutput:
    """What the demo prints, read as it comes (the banner is needed while the demo runs)."""

    def __init__(self, process: subprocess.Popen) -> None:
        self._lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self._lines.extend(process.stdout), daemon=True)
        self._reader.start()

    def text(self) -> str:
        return "".join(self._lines)

    def rest(self, timeout: float) -> str:
        """Everything, once the process has closed its output."""
        self._reader.join(timeout)
        return self.text()


class DashboardClient:
    """An HTTP client of the dashboard that keeps its cookies, as a browser does."""

    def __init__(self, base_url: str) -> None:
        # The session cookie is `Secure`; browsers send such cookies to http://127.0.0.1 (a
        # trustworthy origin), and so must this client, whose default policy sends them over https only.
        cookies = CookieJar(DefaultCookiePolicy(secure_protocols=("https", "wss", "http")))
        self.base_url = base_url
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))

    def get(self, path: str) -> str:
        # Generous: the demo's first sweep holds SQLite's write lock in long stretches.
        with self._opener.open(f"{self.base_url}{path}", timeout=30) as response:
            return response.read().decode()

    def sign_in(self, user_name: str, password: str) -> str:
        """Post the local sign-in form (with its CSRF token); the page it lands on."""
        form = self.get("/sign-in")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        body = urllib.parse.urlencode({"csrf_token": token, "username": user_name, "password": password,
                                       "next": "/"}).encode()
        with self._opener.open(f"{self.base_url}/sign-in", data=body, timeout=30) as response:
            return response.read().decode()


@pytest.fixture
def demo(tmp_path):
    port, emulator_port = free_port(), free_port()
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("GRAPH_", "LEDGER_", "DATABASE_", "LOCAL_PASSWORD", "AUTH_MODE"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "bookings_ledger.cli", "demo", "--port", str(port), "--emulator-port", str(emulator_port)],
        cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = DemoOutput(process)
    yield process, port, tmp_path, output
    if process.poll() is None:
        process.kill()
        process.wait(10)
    output.rest(10)
    process.stdout.close()


@pytest.mark.slow   # two real processes a test: collected first
def test_demo_ingests_live_bookings_and_stops_cleanly(demo):
    process, port, directory, output = demo
    database = directory / "var" / "ledger.db"
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline and collected_entries(database) == 0:
        assert process.poll() is None, output.rest(10)
        time.sleep(0.5)
    assert collected_entries(database) > 0, "no booking reached the ledger"
    ready = get_json(f"http://127.0.0.1:{port}/readyz")
    assert ready["checks"] == {"database": "ok", "subscriptions": "ok"}
    assert (directory / "var" / "demo-keys.env").stat().st_mode & 0o777 == 0o600
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    printed = output.rest(10)
    assert process.returncode == 0, printed
    assert "bookings-ledger demo is running" in printed
    assert "Traceback" not in printed


def overview_counts(page: str) -> tuple[int, int]:
    """(active records, items past their retention date) as the overview states them; 0 when not shown."""
    active = ACTIVE_RECORDS.search(page)
    past_due = sum(int(found.group(1)) for pattern in PAST_DUE if (found := pattern.search(page)))
    return int(active.group(1)) if active else 0, past_due


@pytest.mark.slow   # two real processes a test: collected first
def test_demo_shows_a_populated_dashboard_within_a_minute(demo):
    process, _, _, output = demo
    deadline = time.monotonic() + DASHBOARD_DEADLINE_S
    while (banner := BANNER_DASHBOARD.search(output.text())) is None:
        assert process.poll() is None and time.monotonic() < deadline, f"no dashboard in the banner:\n{output.text()}"
        time.sleep(0.2)
    base_url, password = banner.groups()
    client = DashboardClient(base_url)
    overview = client.sign_in("officer", password)   # lands on the overview
    assert "<h1>Overview</h1>" in overview
    # Live records, and records expiring under the demo's policy of minutes.
    while 0 in overview_counts(overview):
        assert time.monotonic() < deadline, \
            f"no live or expiring records on the overview after {DASHBOARD_DEADLINE_S} s: {overview_counts(overview)}"
        time.sleep(1)
        overview = client.get("/")
    assert "Local sign-in" in overview   # the banner that says this is not for real data
    assert re.search(r"In force: version <code>demo-", client.get("/retention")), "not the demo's policy of minutes"
