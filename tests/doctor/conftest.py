"""Fixtures: a set-up that passes `bookings-ledger doctor` (the Graph emulator over loopback HTTP,
the real webhooks app on a loopback port, migrated SQLite databases, private files and keys),
and a runner that returns the checklist as JSON."""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.serving import make_server

from doctor_helpers import NEEDED, ORIGIN, PRIVACY_MAILBOX, Checklist, b64, private_sqlite
from emulator import EmulatorServer


@pytest.fixture(scope="session")
def _server() -> Iterator[tuple[EmulatorServer, dict[str, Any]]]:
    with EmulatorServer(port=0, seed=5) as server:
        yield server, server.emulator.options.as_dict()


@pytest.fixture
def control(_server: tuple[EmulatorServer, dict[str, Any]]) -> Iterator[httpx.Client]:
    """The control API of an emptied emulator that grants exactly NEEDED."""
    server, options = _server
    with httpx.Client(base_url=server.base_url + "/_emulator", timeout=30) as http:
        http.post("/reset").raise_for_status()
        http.post("/options", json={**options, "granted_permissions": NEEDED}).raise_for_status()
        yield http


@pytest.fixture
def business(control: httpx.Client) -> str:
    """One seeded booking business; its id is its scheduling mailbox's address."""
    return control.post("/seed", json={"seed": 1, "businesses": 1, "appointmentsPerBusiness": 3,
                                       "customersPerBusiness": 2}).json()["businesses"][0]


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _server, business: str) -> Iterator[dict[str, str]]:
    """Environment variables of a set-up every check passes (PUBLIC_BASE_URL is loopback http: a warn)."""
    from bookings_ledger.app import close_app, create_app
    from ledger.core.signed_notes import verifier_key

    server, _options = _server
    monkeypatch.chdir(tmp_path)
    var = tmp_path / "var"
    signing = os.urandom(32)
    settings = {
        "DATABASE_URL": private_sqlite(var / "ledger.db", migrated=True),
        "KEYSTORE_URL": private_sqlite(var / "keys.db", migrated=False),
        "CHECKPOINT_DIR": str(var / "checkpoints"),
        "GRAPH_BASE_URL": server.graph_url, "GRAPH_CREDENTIAL": "static", "GRAPH_TENANT_ID": server.emulator.tenant_id,
        "GRAPH_CLIENT_ID": "00000000-0000-0000-0000-00000000d0c7",
        "BOOKING_BUSINESSES": business, "PRIVACY_MAILBOX": PRIVACY_MAILBOX,
        "LEDGER_MASTER_KEY": b64(os.urandom(32)), "BLIND_INDEX_KEY": b64(os.urandom(32)),
        "CLIENT_STATE_KEY": b64(os.urandom(32)), "SECRET_KEY": b64(os.urandom(32)),
        "CHECKPOINT_SIGNING_KEY": b64(signing), "CHECKPOINT_ORIGIN": ORIGIN,
        "CHECKPOINT_VERIFIER_KEY": verifier_key(ORIGIN, signing),
    }
    (var / "checkpoints").mkdir(mode=0o700)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    app = create_app()  # the webhooks surface, from the same settings
    web = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=web.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    settings["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{web.server_port}"
    monkeypatch.setenv("PUBLIC_BASE_URL", settings["PUBLIC_BASE_URL"])
    yield settings
    web.shutdown()
    thread.join(5)
    close_app(app)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    """`bookings-ledger ARGS` in this process; (exit code, stdout + stderr)."""
    from bookings_ledger.cli import main

    def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


@pytest.fixture
def doctor(cli: Callable[..., tuple[int, str]]) -> Callable[[], Checklist]:
    """Run `bookings-ledger doctor --json` and read its checklist."""

    def run() -> Checklist:
        code, output = cli("doctor", "--json")
        document = json.loads(next(line for line in output.splitlines() if line.startswith("{")))
        assert document["ok"] is (code == 0), output
        return Checklist(code, output, document["checks"])

    return run
