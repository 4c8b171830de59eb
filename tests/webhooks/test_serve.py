"""`bookings-ledger serve --only webhooks`, the real command in a process of its own, holds no ledger
key: it starts and accepts a genuine notification with only CLIENT_STATE_KEY; `--metrics-bind` moves
/metrics and /readyz to an internal listener and off the public one. A `serve` with the dashboard
refuses to start without SECRET_KEY, and with AUTH_MODE=local unless told to allow it."""
from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from bookings_ledger.cli import main
from bookings_ledger.keys import generate_all_keys
from database.engine import create_ledger_engine, upgrade
from state.client_states import ClientStateKeys
from state.subscriptions import save_subscription
from webhook_items import MAILBOX, MAILBOX_USER_ID, NOW, TENANT, inbox_rows, notification

ROOT = Path(__file__).parents[2]
LEDGER_KEYS = ("LEDGER_MASTER_KEY", "LEDGER_PREVIOUS_MASTER_KEYS", "BLIND_INDEX_KEY", "CHECKPOINT_SIGNING_KEY")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _web_environment(tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(environment of a web process with no ledger key, a subscription stored for it)."""
    key = os.urandom(32)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = create_ledger_engine(url)
    upgrade(engine)
    subscription = {"id": "5c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e", "client_state": "s" * 64}
    with Session(engine) as session, session.begin():
        save_subscription(session, ClientStateKeys(key), subscription_id=subscription["id"], business_id=MAILBOX,
                          resource=f"users/{MAILBOX}/events", client_state=subscription["client_state"],
                          expires_at=NOW, now=NOW, mailbox_user_id=MAILBOX_USER_ID)
    engine.dispose()
    env = {name: value for name, value in os.environ.items() if name not in LEDGER_KEYS}
    env.update(DATABASE_URL=url, GRAPH_TENANT_ID=TENANT, CLIENT_STATE_KEY=base64.b64encode(key).decode(),
               PYTHONPATH=str(ROOT), LOG_LEVEL="WARNING")
    return env, subscription


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, dict[str, str], str]]:
    """`serve --only webhooks --bind … --metrics-bind …` running: (public URL, internal URL, subscription, database URL)."""
    tmp_path = tmp_path_factory.mktemp("serve")
    env, subscription = _web_environment(tmp_path)
    public, internal = f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "bookings_ledger.cli", "serve", "--only", "webhooks", "--bind", public,
         "--metrics-bind", internal, "--workers", "1", "--threads", "2"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_until_up(f"http://{public}/healthz", process)
        yield f"http://{public}", f"http://{internal}", subscription, env["DATABASE_URL"]
    finally:
        process.terminate()
        process.communicate(timeout=30)


def _wait_until_up(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited {process.returncode}: {process.stderr.read()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("serve did not start within 60 s")


class _Engine:
    """Enough of an app for `inbox_rows`: the engine of the served database."""

    def __init__(self, url: str) -> None:
        self.extensions = {"bookings_ledger.engine": create_ledger_engine(url)}


def test_serve_without_any_ledger_key_accepts_a_genuine_notification(served):
    public, _, subscription, database_url = served
    body = json.dumps({"value": [notification(subscription)]})
    response = httpx.post(f"{public}/webhooks/graph", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 202
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    stored = _Engine(database_url)
    assert inbox_rows(stored) == [(subscription["id"], "created", "AAMkAD-event-1")]
    stored.extensions["bookings_ledger.engine"].dispose()


def test_metrics_bind_moves_metrics_and_readiness_to_the_internal_listener(served):
    public, internal, _, _ = served
    assert [httpx.get(f"{public}{path}").status_code for path in ("/metrics", "/readyz")] == [404, 404]
    assert httpx.get(f"{internal}/metrics").status_code == 200
    assert httpx.get(f"{internal}/readyz").json()["checks"]["database"] == "ok"
    assert httpx.post(f"{internal}/webhooks/graph?validationToken=x").status_code == 404
    assert httpx.get(f"{public}/healthz").status_code == httpx.get(f"{internal}/healthz").status_code == 200


def test_serve_without_client_state_key_exits_2_naming_it(tmp_path, monkeypatch, capsys):
    env, _ = _web_environment(tmp_path)
    for name in (*LEDGER_KEYS, "CLIENT_STATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", env["DATABASE_URL"])
    monkeypatch.setenv("GRAPH_TENANT_ID", TENANT)
    monkeypatch.chdir(tmp_path)
    assert main(["serve", "--only", "webhooks", "--bind", f"127.0.0.1:{_free_port()}"]) == 2
    assert "CLIENT_STATE_KEY" in capsys.readouterr().err


def _dashboard_environment(tmp_path, monkeypatch, **settings: str) -> None:
    """The environment of a dashboard process (the ledger's keys, no CLIENT_STATE_KEY) with `settings`."""
    for name in (*LEDGER_KEYS, "CLIENT_STATE_KEY", "SECRET_KEY", "AUTH_MODE", "LOCAL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    keys = {name: value for name, value in generate_all_keys().items() if name != "CLIENT_STATE_KEY"}
    database = tmp_path / "ledger.db"
    upgrade(create_ledger_engine(f"sqlite:///{database}"))
    for name, value in {**keys, "DATABASE_URL": f"sqlite:///{database}", "KEYSTORE_URL": f"sqlite:///{tmp_path / 'keys.db'}",
                        "GRAPH_TENANT_ID": TENANT, **settings}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("only", [[], ["--only", "dashboard"]])
def test_serve_refuses_local_sign_in_unless_allowed(tmp_path, monkeypatch, capsys, only):
    """AUTH_MODE=local (one shared password) stops a dashboard's start with one line naming the flag."""
    _dashboard_environment(tmp_path, monkeypatch, AUTH_MODE="local", LOCAL_PASSWORD="demo")
    assert main(["serve", *only, "--bind", f"127.0.0.1:{_free_port()}"]) == 2
    error = capsys.readouterr().err
    assert "AUTH_MODE=local" in error and "--allow-local-sign-in" in error and len(error.strip().splitlines()) == 1


@pytest.mark.parametrize("allow", [[], ["--allow-local-sign-in"]])
def test_serve_refuses_a_dashboard_without_secret_key(tmp_path, monkeypatch, capsys, allow):
    """No SECRET_KEY, no dashboard: one line naming it, whatever the sign-in mode."""
    _dashboard_environment(tmp_path, monkeypatch, AUTH_MODE="local", LOCAL_PASSWORD="demo")
    monkeypatch.delenv("SECRET_KEY")
    assert main(["serve", "--only", "dashboard", *allow, "--bind", f"127.0.0.1:{_free_port()}"]) == 2
    error = capsys.readouterr().err
    assert "SECRET_KEY" in error and len(error.strip().splitlines()) == 1


def test_serve_only_dashboard_starts_without_client_state_key_and_serves_no_webhooks(tmp_path, monkeypatch):
    """The dashboard's process runs with the ledger's keys and SECRET_KEY alone: it serves the
    sign-in page behind its session cookie and strict CSP, and no webhook path."""
    _dashboard_environment(tmp_path, monkeypatch, AUTH_MODE="local", LOCAL_PASSWORD="demo")
    bind = f"127.0.0.1:{_free_port()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "bookings_ledger.cli", "serve", "--only", "dashboard", "--allow-local-sign-in",
         "--bind", bind, "--workers", "1", "--threads", "2"],
        env={**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_until_up(f"http://{bind}/healthz", process)
        page = httpx.get(f"http://{bind}/sign-in")
        assert page.status_code == 200 and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert page.headers["Set-Cookie"].startswith("__Host-bl_session=")
        assert httpx.post(f"http://{bind}/webhooks/graph?validationToken=x").status_code == 404
    finally:
        process.terminate()
        process.communicate(timeout=30)
