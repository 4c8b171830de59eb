"""Structured logs: every line one JSON object with timestamp, level, logger, event and the bound
ids (request_id, job and run_id, command); an exception reduced to its class; request ids kept
from a well-formed X-Request-Id, else fresh, and answered; nothing of a request's query string,
headers or client address in any line.

The served app runs as `bookings-ledger serve` in a process of its own (gunicorn workers and
all), and its real stderr is read; the jobs' and the helpers' lines are read from this process's
stderr after `configure_logging`, which writes there as a real process does.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from bookings_ledger.app import close_app, create_app
from bookings_ledger.logs import configure_logging
from bookings_ledger.request_ids import HEADER
from database.engine import create_ledger_engine, upgrade
from jobs.scheduler import LeasedRunner

ROOT = Path(__file__).parents[1]
TENANT = "6f1b8c2e-3d4a-4b5c-9e8f-7a6b5c4d3e2f"
NOW = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
SECRET_LOOKING = "carol.jones@example.com"


def json_lines(text: str) -> list[dict[str, Any]]:
    """Each line of `text` parsed as one JSON object (fails on any line that is not)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def stderr_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Logs configured as a process's (JSON at DEBUG on stderr); yields a reader of the lines so far."""
    configure_logging("DEBUG", "json")
    capsys.readouterr()
    yield lambda: json_lines(capsys.readouterr().err)
    configure_logging("WARNING", "json")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`bookings-ledger serve` at LOG_LEVEL=DEBUG in its own process: (its URL, the process)."""
    tmp_path = tmp_path_factory.mktemp("logs")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = create_ledger_engine(url)
    upgrade(engine)
    engine.dispose()
    env = {**os.environ, "DATABASE_URL": url, "GRAPH_TENANT_ID": TENANT, "PYTHONPATH": str(ROOT),
           "CLIENT_STATE_KEY": base64.b64encode(os.urandom(32)).decode(), "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "json"}
    bind = f"127.0.0.1:{_free_port()}"
    process = subprocess.Popen([sys.executable, "-m", "bookings_ledger.cli", "serve", "--bind", bind, "--workers", "1",
                                "--threads", "2"], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://{bind}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve did not start: {process.communicate(timeout=5)[1]}") from None
            time.sleep(0.2)
    yield f"http://{bind}", process
    if process.poll() is None:
        process.terminate()
        process.communicate(timeout=30)


def _stopped_stderr(process: subprocess.Popen[str]) -> str:
    process.terminate()
    return process.communicate(timeout=30)[1]


def test_a_served_process_logs_one_json_object_a_line_with_request_ids_and_nothing_of_the_request(served):
    """Every stderr line of `serve` (gunicorn's own included) is a JSON object with the fields; the
    request's line carries its id; no line holds its query string, headers or the client's address."""
    base, process = served
    ids = ["proxy-request-0001", "proxy-request-0002"]
    for request_id in ids:
        answer = httpx.get(f"{base}/healthz?email={SECRET_LOOKING}", headers={
            HEADER: request_id, "X-Forwarded-For": "203.0.113.7", "User-Agent": f"probe {SECRET_LOOKING}"})
        assert answer.headers[HEADER] == request_id
    httpx.post(f"{base}/webhooks/graph?validationToken={SECRET_LOOKING}")
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as raw:   # gunicorn's log names the sender of this one
        raw.sendall(f"NOT HTTP /?email={SECRET_LOOKING}\r\n\r\n".encode())
        raw.recv(1024)
    text = _stopped_stderr(process)
    lines = json_lines(text)
    assert lines, "serve logged nothing"
    for line in lines:
        assert {"timestamp", "level", "logger", "event"} <= line.keys(), line
        assert ISO_UTC.fullmatch(line["timestamp"]), line["timestamp"]
        assert line["command"] == "serve", line
    answered = [line for line in lines if line["logger"] == "bookings_ledger.request_ids"]
    assert [(line["request_id"], line["event"]) for line in answered if line["request_id"] in ids] == [
        (request_id, "GET /healthz answered 200") for request_id in ids]
    [posted] = [line for line in answered if line["event"].startswith("POST")]
    assert posted["event"] == "POST /webhooks/graph answered 200" and re.fullmatch(r"[0-9a-f]{32}", posted["request_id"])
    assert any(line["logger"].startswith("gunicorn") for line in lines)
    assert any(line["event"] == "Invalid request" for line in lines)
    for secret in (SECRET_LOOKING, "203.0.113.7", "ip=", "email="):
        assert secret not in text


@pytest.fixture
def webhook_app(tmp_path: Path) -> Iterator[Any]:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(create_ledger_engine(url))
    app = create_app({"DATABASE_URL": url, "GRAPH_TENANT_ID": TENANT,
                      "CLIENT_STATE_KEY": base64.b64encode(os.urandom(32)).decode()}, clock=lambda: NOW)
    yield app
    close_app(app)


@pytest.mark.parametrize("incoming", [None, "", "short", "x" * 65, "has space in it", "semi;colon-1234", "émoji-12345"])
def test_a_missing_or_malformed_request_id_is_replaced_by_a_fresh_random_one(webhook_app, incoming):
    client = webhook_app.test_client()
    headers = {} if incoming is None else {HEADER: incoming}
    first, second = (client.get("/healthz", headers=headers).headers[HEADER] for _ in range(2))
    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", second) and first != second


@pytest.mark.parametrize("incoming", ["abcd-123", "A" * 64, "0b1e8f4a-6c2d-4e8f-9a1b-3c5d7e9f0a2b"])
def test_a_well_formed_request_id_is_kept(webhook_app, incoming):
    assert webhook_app.test_client().get("/readyz", headers={HEADER: incoming}).headers[HEADER] == incoming


def test_the_request_id_is_unbound_after_the_request(webhook_app, stderr_logs):
    webhook_app.test_client().get("/healthz", headers={HEADER: "request-id-123"})
    assert "request_id" not in structlog.contextvars.get_contextvars()
    logging.getLogger("after").warning("outside any request")
    [line] = [line for line in stderr_logs() if line["logger"] == "after"]
    assert "request_id" not in line


def test_job_lines_carry_the_job_and_its_run_id(db, clock, stderr_logs):
    """LeasedRunner binds `job` and `run_id` around a run: the job's own lines and the runner's carry them."""
    runner = LeasedRunner(db, clock)

    def tidy() -> dict[str, int]:
        logging.getLogger("jobs.tidy").warning("tidied %d rows", 3)
        return {"rows": 3}

    def broken() -> dict[str, int]:
        raise RuntimeError(f"Failing row contains ({SECRET_LOOKING})")

    assert runner.run("tidy", tidy) == "ok" and runner.run("broken", broken) == "failed"
    lines = stderr_logs()
    tidied = next(line for line in lines if line["event"] == "tidied 3 rows")
    assert tidied["job"] == "tidy" and isinstance(tidied["run_id"], int) and tidied["level"] == "warning"
    failed = next(line for line in lines if line["event"].startswith("job broken failed"))
    assert failed["job"] == "broken" and failed["run_id"] == tidied["run_id"] + 1 and failed["level"] == "error"
    assert SECRET_LOOKING not in json.dumps(lines)
    assert "job" not in structlog.contextvars.get_contextvars()


def test_an_exception_is_logged_by_class_and_frames_never_by_message(stderr_logs):
    try:
        raise ValueError(f"duplicate key value ({SECRET_LOOKING})")
    except ValueError:
        logging.getLogger("bookings_ledger.test").exception("ingest failed")
    [line] = stderr_logs()
    assert line["exception"] == "ValueError" and line["event"] == "ingest failed"
    assert any("test_logging.py" in frame for frame in line["frames"])
    assert SECRET_LOOKING not in json.dumps(line)


def test_console_format_renders_for_a_terminal(capsys):
    configure_logging("INFO", "console")
    try:
        with structlog.contextvars.bound_contextvars(job="reconcile"):
            logging.getLogger("bookings_ledger.test").info("swept %d appointments", 8)
        err = capsys.readouterr().err
    finally:
        configure_logging("WARNING", "json")
    assert "swept 8 appointments" in err and "job=reconcile" in err and not err.lstrip().startswith("{")


def test_the_level_comes_from_log_level(capsys):
    configure_logging("WARNING", "json")
    logging.getLogger("bookings_ledger.test").info("not shown")
    logging.getLogger("bookings_ledger.test").warning("shown")
    assert [line["event"] for line in json_lines(capsys.readouterr().err)] == ["shown"]
