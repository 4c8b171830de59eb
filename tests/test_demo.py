"""`bookings-ledger demo` on a fresh machine: starts everything, ingests live bookings, stops cleanly."""
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import pytest

DEADLINE_S = 90


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


def local_password(keys: Path) -> str:
    return next(line.split("=", 1)[1] for line in keys.read_text().splitlines() if line.startswith("LOCAL_PASSWORD="))


def signed_in_locally(port: int, name: str, password: str) -> bool:
    """Sign in on the demo's dashboard as a browser would (the session cookie carried by hand:
    Python's cookie jar keeps `Secure` cookies off plain http, which browsers allow on loopback)."""
    base = f"http://127.0.0.1:{port}"
    # Generous timeouts: the first sweep of the demo holds SQLite's write lock in long stretches.
    page = httpx.get(f"{base}/sign-in", timeout=30)
    cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = httpx.post(f"{base}/sign-in", headers={"Cookie": cookie},
                        data={"csrf_token": token, "username": name, "password": password, "next": "/"}, timeout=30)
    return answer.status_code == 302 and answer.headers["Set-Cookie"].startswith("__Host-bl_session=")


@pytest.fixture
def demo(tmp_path):
    port, emulator_port = free_port(), free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("GRAPH_", "LEDGER_", "DATABASE_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "bookings_ledger.cli", "demo", "--port", str(port), "--emulator-port", str(emulator_port)],
        cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    yield process, port, tmp_path
    if process.poll() is None:
        process.kill()
        process.wait(10)


def test_demo_ingests_live_bookings_and_stops_cleanly(demo):
    process, port, directory = demo
    database = directory / "var" / "ledger.db"
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline and collected_entries(database) == 0:
        assert process.poll() is None, process.stdout.read()
        time.sleep(0.5)
    assert collected_entries(database) > 0, "no booking reached the ledger"
    ready = get_json(f"http://127.0.0.1:{port}/readyz")
    assert ready["checks"] == {"database": "ok", "subscriptions": "ok"}
    assert (directory / "var" / "demo-keys.env").stat().st_mode & 0o777 == 0o600
    password = local_password(directory / "var" / "demo-keys.env")
    assert signed_in_locally(port, "officer", password)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "bookings-ledger demo is running" in output
    assert f"http://127.0.0.1:{port}/ " in output and f"password {password}" in output
    assert "Traceback" not in output
