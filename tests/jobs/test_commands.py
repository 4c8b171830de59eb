"""`subscribe`, `sync`, `worker --once` and `scheduler` as an operator runs them, against the
emulator and a migrated database; exit codes 0 (done), 2 (bad settings or unmigrated database).

Commands that do their work run in a process of their own, as in production; the refusals run
through `bookings_ledger.cli.main` in this process (they stop before opening anything)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bookings_ledger.cli import main
from ingestion_pipeline import wait_delivered
from state.inbox import InboxRow
from state.leases import JobRun
from state.subscriptions import GraphSubscription

from projection_check import projection_differences

ROOT = Path(__file__).parents[2]
# A migrated SQLite database, as the commands' operators start with; PostgreSQL is exercised by
# the in-process tests of the same jobs.
pytestmark = pytest.mark.parametrize("database_factory", ["sqlite"], indirect=True)


@pytest.fixture
def operator_env(service, control, monkeypatch, tmp_path) -> dict[str, str]:
    """The service's settings as environment variables, for one seeded business."""
    businesses = control.seed(appointments=8, customers=4)
    env = {**service.settings, "BOOKING_BUSINESSES": ",".join(businesses), "CHECKPOINT_DIR": str(tmp_path / "cp"),
           "LOG_LEVEL": "WARNING"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def run_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`bookings-ledger ARGS` in a subprocess with the given settings as its environment."""
    return subprocess.run([sys.executable, "-m", "bookings_ledger.cli", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_subscribe_creates_one_subscription_per_business_and_says_so(operator_env, service):
    first = run_command(operator_env, "subscribe")
    assert first.returncode == 0 and "1 created" in first.stdout, first.stderr
    with Session(service.ledger.engine) as session:
        assert len(session.scalars(select(GraphSubscription)).all()) == 1
    again = run_command(operator_env, "subscribe")
    assert again.returncode == 0 and "1 unchanged" in again.stdout, again.stderr


def test_subscribe_rotate_client_state_replaces_each_subscription_and_says_so(operator_env, service, control):
    assert run_command(operator_env, "subscribe").returncode == 0
    [before] = control.live_subscriptions()
    done = run_command(operator_env, "subscribe", "--rotate-client-state")
    assert done.returncode == 0 and "1 subscriptions replaced" in done.stdout, done.stderr
    [after] = control.live_subscriptions()
    assert after["id"] != before["id"] and after["clientState"] != before["clientState"]


def test_sync_reconciles_appointments_and_customers_and_shows_the_watermark_lag(operator_env, service, control):
    """`sync --status` (no Graph request) says "no sweep yet"; `sync` sweeps and shows the lag."""
    control.call("DELETE", "/requests")
    before = run_command(operator_env, "sync", "--status")
    assert before.returncode == 0 and "no sweep yet" in before.stdout and "no delta round yet" in before.stdout
    assert not [key for key in control.call("GET", "/requests") if " /v1.0/" in key]
    done = run_command(operator_env, "sync")
    assert done.returncode == 0, done.stderr
    assert "8 appointments" in done.stdout and "4 customers" in done.stdout and "4 collected" in done.stdout
    assert projection_differences(service.ledger, control.state()) == []
    business = operator_env["BOOKING_BUSINESSES"]
    assert f"{business}: watermark 20" in done.stdout and "s behind)" in done.stdout and "0 open gaps" in done.stdout


def test_worker_once_processes_the_due_inbox_rows(operator_env, service, control, emulator):
    assert run_command(operator_env, "subscribe").returncode == 0
    appointment = control.state()["businesses"][0]["appointments"][0]["id"]
    business = operator_env["BOOKING_BUSINESSES"]
    with httpx.Client(base_url=emulator.graph_url, headers={"Authorization": "Bearer test"}) as http:
        http.delete(f"/solutions/bookingBusinesses/{business}/appointments/{appointment}").raise_for_status()
    wait_delivered(control)
    done = run_command(operator_env, "worker", "--once")
    assert done.returncode == 0, done.stderr
    wait_delivered(control)
    with Session(service.ledger.engine) as session:
        states = set(session.scalars(select(InboxRow.state)))
    assert states == {"done"}


def test_scheduler_runs_its_jobs_and_stops_cleanly_on_ctrl_c(operator_env, service, control):
    env = {**os.environ, **operator_env}
    # Started with SIGINT ignored, as a script's background job or nohup starts it: Ctrl-C must still stop it.
    process = subprocess.Popen([sys.executable, "-m", "bookings_ledger.cli", "scheduler", "--metrics-port", "0"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=ROOT, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 120
        wanted = {"renew-subscriptions", "reconcile", "checkpoint"}
        while not wanted <= finished_jobs(service) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
        assert wanted <= finished_jobs(service), process.stderr.read() if process.poll() is not None else "jobs did not run"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "scheduler" in out and "started" in out
    wait_delivered(control)   # nothing in flight to the web app when its fixture tears it down


def finished_jobs(service) -> set[str]:
    with Session(service.ledger.engine) as session:
        return set(session.scalars(select(JobRun.job).where(JobRun.outcome == "ok")))


@pytest.mark.parametrize("command", [["subscribe"], ["sync"], ["scheduler"]])
def test_a_missing_business_list_exits_2_naming_the_setting(operator_env, monkeypatch, capsys, command):
    monkeypatch.setenv("BOOKING_BUSINESSES", "")
    assert main(command) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "BOOKING_BUSINESSES" in err[0]


@pytest.mark.parametrize("command", [["subscribe"], ["sync"], ["worker", "--once"], ["scheduler"]])
def test_a_bad_setting_exits_2_naming_it(operator_env, monkeypatch, capsys, command):
    monkeypatch.setenv("GRAPH_CREDENTIAL", "telepathy")
    assert main(command) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "GRAPH_CREDENTIAL" in err[0]


@pytest.mark.parametrize("command", [["subscribe"], ["sync"], ["worker", "--once"], ["scheduler"]])
def test_an_unmigrated_database_exits_2_naming_the_upgrade_command(operator_env, monkeypatch, capsys, tmp_path, command):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert main(command) == 2
    assert "bookings-ledger db upgrade" in capsys.readouterr().err
