"""Each process holds only its keys: with every key in Key Vault and none in the environment, each
real command, started as its own process, reads from the vault exactly the secrets it uses.

The vault is tests/key_vault_double.py over real HTTPS (challenge first, as the service does);
Graph is the emulator. A process asks for a key the first time it needs one, so the secrets it
read are the ones it holds: the internet-facing `serve --only webhooks` never reads a ledger key.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bookings_ledger.keys import generate_all_keys
from config.key_vault import secret_name
from config.settings import KEY_SETTINGS
from database.engine import create_ledger_engine, upgrade
from emulator.server import EmulatorServer
from tests.key_vault_double import KeyVaultDouble, worker_ports

ROOT = Path(__file__).parents[1]
TENANT = "6f1b8c2e-3d4a-4b5c-9e8f-7a6b5c4d3e2f"
# This worker's ports (each xdist worker sets up its own vault, emulator and serve): 18110-18129.
VAULT_PORT, SERVE_PORT, EMULATOR_PORT = list(worker_ports(18110, 5))[:3]
MAILBOX = "bookings@contoso.com"

LEDGER = {"ledger-master-key", "ledger-previous-master-keys", "blind-index-key"}
CLIENT_STATE = {"client-state-key", "client-state-previous-keys"}


@pytest.fixture(scope="session")  # set up once: an xdist worker may interleave other modules
def keys() -> dict[str, str]:
    return generate_all_keys()


@pytest.fixture(scope="session")  # set up once: an xdist worker may interleave other modules
def vault(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, str]) -> Iterator[KeyVaultDouble]:
    secrets = {secret_name(name): value for name, value in keys.items() if name in KEY_SETTINGS}
    with KeyVaultDouble(tmp_path_factory.mktemp("vault"), VAULT_PORT, secrets) as double:
        yield double


@pytest.fixture(scope="session")  # set up once: an xdist worker may interleave other modules
def graph() -> Iterator[EmulatorServer]:
    with EmulatorServer(port=EMULATOR_PORT, seed=5) as server:
        yield server


@pytest.fixture(scope="session")  # set up once: an xdist worker may interleave other modules
def environment(tmp_path_factory: pytest.TempPathFactory, vault: KeyVaultDouble, graph: EmulatorServer,
                keys: dict[str, str]) -> dict[str, str]:
    """A process's environment: every key setting left to the vault, the verifier key (public) set."""
    tmp = tmp_path_factory.mktemp("process-keys")
    database = f"sqlite:///{tmp / 'ledger.db'}"
    upgrade(create_ledger_engine(database))
    inherited = {k: v for k, v in os.environ.items() if k not in KEY_SETTINGS and not k.startswith(("GRAPH_", "DATABASE"))}
    return {**inherited, "PYTHONPATH": str(ROOT), "DATABASE_URL": database, "KEYSTORE_URL": f"sqlite:///{tmp / 'keys.db'}",
            "KEY_VAULT_URL": vault.url, "REQUESTS_CA_BUNDLE": str(vault.certificate),
            "GRAPH_BASE_URL": graph.graph_url, "GRAPH_CREDENTIAL": "static", "GRAPH_TENANT_ID": TENANT,
            "GRAPH_CLIENT_ID": "00000000-0000-0000-0000-00000000c11e", "BOOKING_BUSINESSES": MAILBOX,
            "CHECKPOINT_VERIFIER_KEY": keys["CHECKPOINT_VERIFIER_KEY"], "CHECKPOINT_DIR": str(tmp / "checkpoints"),
            "EXPORT_DIR": str(tmp / "exports"), "LOG_LEVEL": "INFO", "BOOKINGS_LEDGER_CONFIG": ""}


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "bookings_ledger.cli", *args]


def read_by_one_shot(vault: KeyVaultDouble, environment: dict[str, str], *args: str) -> set[str]:
    vault.reads.clear()
    finished = subprocess.run(command(*args), env=environment, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr[-2000:]
    return set(vault.reads)


def read_by_service(vault: KeyVaultDouble, environment: dict[str, str], ready, *args: str) -> set[str]:
    """Start a long-running command, wait until `ready()` says it is serving, stop it: what it read."""
    vault.reads.clear()
    process = subprocess.Popen(command(*args), env=environment, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while not ready():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"{args} did not start: {process.communicate(timeout=10)[0][-2000:]}")
            time.sleep(0.2)
    finally:
        if process.poll() is None:
            process.terminate()
            process.communicate(timeout=30)
    return set(vault.reads)


def serving() -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{SERVE_PORT}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_webhook_process_reads_only_the_client_state_keys(vault, environment):
    """The internet-facing process holds CLIENT_STATE_KEY (and its predecessors), no ledger key."""
    read = read_by_service(vault, environment, serving, "serve", "--only", "webhooks", "--bind",
                           f"127.0.0.1:{SERVE_PORT}", "--workers", "1", "--threads", "2")
    assert read == CLIENT_STATE


def test_the_dashboard_reads_the_ledger_keys_and_the_secret_key_only(vault, environment):
    read = read_by_service(vault, environment, serving, "serve", "--only", "dashboard", "--bind",
                           f"127.0.0.1:{SERVE_PORT}", "--workers", "1", "--threads", "2")
    assert read == LEDGER | {"secret-key"}


def test_a_worker_reads_the_ledger_keys_and_the_client_state_keys_only(vault, environment):
    """A lifecycle notification can replace a removed subscription, whose new clientState it hashes."""
    assert read_by_one_shot(vault, environment, "worker", "--once") == LEDGER | CLIENT_STATE


def test_the_scheduler_reads_the_ledger_keys_the_signing_key_and_the_client_state_keys(vault, environment):
    """It signs checkpoints and renews subscriptions (whose clientState it hashes)."""
    read = read_by_service(vault, environment, lambda: {"checkpoint-signing-key"} <= set(vault.reads)
                           and len(vault.reads) >= len(LEDGER | CLIENT_STATE) + 1, "scheduler")
    assert read == LEDGER | CLIENT_STATE | {"checkpoint-signing-key"}


def test_verify_reads_no_key_at_all(vault, environment):
    """An auditor's verification needs the public verifier key only (set in the environment)."""
    assert read_by_one_shot(vault, environment, "verify") == set()


def test_a_key_missing_from_the_vault_stops_the_process_with_one_line_naming_it(vault, environment):
    held = vault.secrets.pop("client-state-key")
    try:
        finished = subprocess.run(command("serve", "--only", "webhooks", "--bind", f"127.0.0.1:{SERVE_PORT}"),
                                  env=environment, cwd=ROOT, capture_output=True, text=True, timeout=120)
    finally:
        vault.secrets["client-state-key"] = held
    assert finished.returncode == 2
    [line] = finished.stderr.strip().splitlines()
    assert "CLIENT_STATE_KEY" in line and "client-state-key" in line and held not in line
