"""deploy/'s systemd units start the production shape on PostgreSQL against the emulator, and stop cleanly.

The units are run by tests/deploy/systemd_units.py (systemd's semantics for what they use; PID 1
here is not systemd) exactly as written: their ExecStart lines, environment files, ordering and
stop signals. `systemd-analyze verify` checks the rest of each file.
"""
from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from systemd_units import UnitRunner, parse_environment_file, parse_unit

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VENV = Path(sys.prefix)
PORTS = range(18200, 18300)     # this area's ports on the shared machine
TARGET = "bookings-ledger.target"
SERVICES = ["bookings-ledger-webhooks.service", "bookings-ledger-dashboard.service",
            "bookings-ledger-worker@1.service", "bookings-ledger-worker@2.service", "bookings-ledger-scheduler.service"]
# Which keys each process gets, in its own environment file: no process holds a key it does not use.
PROCESS_KEYS = {
    "webhooks": ["CLIENT_STATE_KEY"],
    "dashboard": ["LEDGER_MASTER_KEY", "BLIND_INDEX_KEY", "SECRET_KEY"],
    "worker": ["LEDGER_MASTER_KEY", "BLIND_INDEX_KEY", "CLIENT_STATE_KEY"],
    "scheduler": ["LEDGER_MASTER_KEY", "BLIND_INDEX_KEY", "CLIENT_STATE_KEY", "CHECKPOINT_SIGNING_KEY"],
}


def free_ports(count: int) -> list[int]:
    """Ports of this area's range nobody listens on (other tests of this file may run at once)."""
    found: list[int] = []
    for port in random.sample(PORTS, len(PORTS)):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                found.append(port)
        if len(found) == count:
            return found
    raise AssertionError("no free ports left in 18200-18299")


def wait_until(check: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def write_env(path: Path, values: dict[str, str]) -> None:
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    path.chmod(0o640)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[str]:
    """`bookings-ledger emulator --port N` in the foreground of its own process, seeded with one business."""
    port = free_ports(1)[0]
    with (tmp_path / "emulator.log").open("wb") as log:
        process = subprocess.Popen([str(VENV / "bin" / "bookings-ledger"), "emulator", "--port", str(port), "--seed", "3",
                                    "--businesses", "1", "--appointments", "5"], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(url + "/_emulator/options", timeout=1).status_code == 200, 20, "the emulator")
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def host(tmp_path: Path, database_factory, emulator: str) -> Iterator[tuple[UnitRunner, dict[str, str]]]:
    """A host laid out as docs/deploy.md says: /etc/bookings-ledger with the env files, the state directory."""
    from bookings_ledger.keys import generate_all_keys

    etc, state, logs = tmp_path / "etc", tmp_path / "state", tmp_path / "logs"
    for directory in (etc, logs):
        directory.mkdir()
    ports = dict(zip(["webhooks", "webhooks_metrics", "dashboard", "dashboard_metrics"], free_ports(4)))
    emulator_state = httpx.get(emulator + "/_emulator/state", params={"appointments": "false"}, timeout=10).json()
    example = parse_environment_file(DEPLOY / "bookings-ledger.env.example")
    keys = generate_all_keys()
    settings = {
        **{key: value for key, value in example.items() if key != "KEY_VAULT_URL"},   # keys from files, not a vault
        "WEBHOOKS_BIND": f"127.0.0.1:{ports['webhooks']}", "WEBHOOKS_METRICS_BIND": f"127.0.0.1:{ports['webhooks_metrics']}",
        "DASHBOARD_BIND": f"127.0.0.1:{ports['dashboard']}",
        "DASHBOARD_METRICS_BIND": f"127.0.0.1:{ports['dashboard_metrics']}",
        "DATABASE_URL": database_factory.new_url(), "KEYSTORE_URL": database_factory.new_database_url(),
        "CHECKPOINT_VERIFIER_KEY": keys["CHECKPOINT_VERIFIER_KEY"], "CHECKPOINT_DIR": f"{state}/checkpoints",
        "EXPORT_DIR": f"{state}/exports", "GRAPH_BASE_URL": emulator + "/v1.0", "GRAPH_CREDENTIAL": "static",
        "GRAPH_TENANT_ID": emulator_state["tenantId"], "GRAPH_CLIENT_CERTIFICATE": "",
        "BOOKING_BUSINESSES": emulator_state["businesses"][0]["business"]["id"],
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['webhooks']}", "TRUSTED_PROXY_HOPS": "0",
    }
    write_env(etc / "bookings-ledger.env", settings)
    for process, names in PROCESS_KEYS.items():
        write_env(etc / f"{process}.env", {name: keys[name] for name in names})
    runner = UnitRunner(DEPLOY, {"/opt/bookings-ledger/venv": VENV, "/etc/bookings-ledger": etc,
                                 "/var/lib/bookings-ledger": state}, logs)
    try:
        yield runner, settings
    finally:
        for key in list(runner.running):   # a failed test leaves no process behind, gunicorn's workers included
            running = runner.running[key].process
            if running is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(running.pid, signal.SIGKILL)
                running.wait(10)


def healthy(address: str) -> bool:
    return httpx.get(f"http://{address}/healthz", timeout=2).status_code == 200


def scheduler_holder(log: Path) -> str | None:
    line = next((line for line in log.read_text().splitlines() if line.startswith("scheduler ")), None)
    return line.split()[1] if line else None


@pytest.mark.postgres
@pytest.mark.timeout(180)
@pytest.mark.parametrize("database_factory", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_units_start_the_service_which_works_and_stops_cleanly(host, emulator: str) -> None:
    """db upgrade runs first; webhooks and dashboard answer; Graph's handshake passes; the workers (two instances
    of the template) drain the inbox; one scheduler holds the lease and a second stays idle; each unit stops within its TimeoutStopSec, exit 0."""
    from state.inbox import InboxRow
    from state.leases import JobLease, JobRun
    from state.subscriptions import GraphSubscription

    runner, settings = host
    for name in SERVICES:
        runner.enable(name, TARGET)
    runner.start(TARGET)
    runner.start("bookings-ledger-scheduler.service", as_name="bookings-ledger-scheduler-standby")
    assert list(runner.running)[0] == "bookings-ledger-db-upgrade.service"   # Requires= and After= put it first
    engine = create_engine(settings["DATABASE_URL"], poolclass=NullPool)
    try:
        wait_until(lambda: healthy(settings["WEBHOOKS_BIND"]) and healthy(settings["DASHBOARD_BIND"]), 40, "both serve units")
        answer = httpx.post(f"http://{settings['WEBHOOKS_BIND']}/webhooks/graph", params={"validationToken": "deploy-check"})
        assert (answer.status_code, answer.text) == (200, "deploy-check")
        # --metrics-bind from the unit's line: /readyz answers on the internal listener only.
        assert httpx.get(f"http://{settings['DASHBOARD_METRICS_BIND']}/readyz", timeout=5).status_code in (200, 503)
        assert httpx.get(f"http://{settings['DASHBOARD_BIND']}/readyz", timeout=5).status_code == 404

        # The scheduler's first renewal creates the subscription: the emulator's handshake reached the webhooks unit.
        def active_subscription() -> bool:
            with Session(engine) as session:
                return session.scalar(select(GraphSubscription.state).limit(1)) == "active"
        wait_until(active_subscription, 40, "the subscription the scheduler creates")
        business = settings["BOOKING_BUSINESSES"]
        with httpx.Client(base_url=f"{emulator}/v1.0/solutions/bookingBusinesses/{business}",
                          headers={"Authorization": "Bearer deploy-test"}, timeout=10) as graph:
            first = graph.get("/appointments").json()["value"][0]
            changed = graph.patch(f"/appointments/{first['id']}", json={"serviceNotes": "moved by the deploy test"})
        assert changed.status_code == 204

        def drained() -> bool:
            with Session(engine) as session:
                states = session.scalars(select(InboxRow.state)).all()
            return bool(states) and set(states) == {"done"}
        wait_until(drained, 40, "the workers to drain the inbox")

        logs = runner.log_dir
        holders = {key: wait_until(lambda key=key: scheduler_holder(logs / f"{key}.log"), 20, key)
                   for key in ("bookings-ledger-scheduler.service", "bookings-ledger-scheduler-standby")}
        with Session(engine) as session:
            leader = session.scalar(select(JobLease.holder).where(JobLease.name == "scheduler"))
            working = set(session.scalars(select(JobRun.holder)).all())
        assert leader in holders.values()
        assert working == {leader}, "the standby scheduler ran a job"
    finally:
        engine.dispose()

    stopped = runner.stop_all()
    for key, outcome in stopped.items():
        assert not outcome.timed_out, f"{key} did not stop within its TimeoutStopSec (SIGKILL)"
        assert outcome.returncode == 0, f"{key} exited {outcome.returncode}: {(runner.log_dir / f'{key}.log').read_text()[-1500:]}"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_finds_nothing_in_the_units(tmp_path: Path) -> None:
    """Every directive is one systemd knows, with a value it accepts: verify prints nothing."""
    for unit in DEPLOY.glob("bookings-ledger*"):
        # verify checks that ExecStart's program exists: point it at this checkout's install.
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/bookings-ledger/venv", str(VENV)))
    names = [TARGET, "bookings-ledger-db-upgrade.service", *SERVICES]   # worker@1: an instance of the template
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *(str(tmp_path / n) for n in names)],
                            capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_env_example_gives_every_variable_the_units_expand() -> None:
    """A host's env file copied from the example leaves no $VAR of an ExecStart empty."""
    example = parse_environment_file(DEPLOY / "bookings-ledger.env.example")
    for path in DEPLOY.glob("*.service"):
        for line in parse_unit(path).values("Service", "ExecStart"):
            missing = {name for name in re.findall(r"\$\{?([A-Za-z_]\w*)", line) if not example.get(name)}
            assert not missing, f"{path.name}: {sorted(missing)}"


def test_every_setting_of_the_env_example_is_one_the_service_or_a_unit_reads() -> None:
    """No misspelt or retired setting in the example: each is a Settings field or a variable an ExecStart expands."""
    from config.settings import Settings

    expanded = {name for path in DEPLOY.glob("*.service") for line in parse_unit(path).values("Service", "ExecStart")
                for name in re.findall(r"\$\{?([A-Za-z_]\w*)", line)}
    # KEY_VAULT_URL: the contract's name for the vault (issue 14), read by the key source.
    known = set(Settings.model_fields) | expanded | {"KEY_VAULT_URL"}
    unknown = set(parse_environment_file(DEPLOY / "bookings-ledger.env.example")) - known
    assert not unknown, sorted(unknown)
