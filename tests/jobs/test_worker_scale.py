"""Many processes on PostgreSQL: 4 `bookings-ledger worker` and 2 web processes share one inbox."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from ingestion_pipeline import Pipeline, wait_delivered
from jobs.worker import Worker

BIN = Path(sys.executable).with_name("bookings-ledger")
DONE = re.compile(r"inbox row (\d+) done")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("database_factory", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_four_workers_and_two_web_processes_handle_every_row_exactly_once(
    service, make_services, control, graph, ingestor, emulator, tmp_path
):
    """Every inbox row is done once, by one worker; no booking is collected twice."""
    businesses = control.seed(businesses=2, appointments=20, customers=10)
    web_url = f"http://127.0.0.1:{_free_port()}"
    env = {**os.environ, **service.settings, "PUBLIC_BASE_URL": web_url, "BOOKING_BUSINESSES": ",".join(businesses),
           "LOG_LEVEL": "DEBUG"}
    processes = [subprocess.Popen([BIN, "serve", "--bind", web_url[7:], "--workers", "2", "--threads", "4"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    logs = [tmp_path / f"worker{i}.log" for i in range(4)]
    try:
        _wait_until(lambda: _healthy(web_url), 30, "the web processes")
        make_services(businesses, PUBLIC_BASE_URL=web_url).subscriptions.ensure_all()
        for log in logs:
            with log.open("w") as sink:
                processes.append(subprocess.Popen([BIN, "worker", "--interval", "0.2"], env=env, stdout=sink, stderr=sink))
        # Traffic starts once every worker has its Graph connection: a worker still importing
        # while the others drained a short burst would prove nothing about sharing the work.
        _wait_until(lambda: all("Using selector" in log.read_text() for log in logs), 60, "the workers")
        control.call("POST", "/traffic", {"rate": 50, "count": 600, "seed": 7})
        _wait_until(lambda: not control.call("GET", "/traffic")["running"], 60, "the traffic")
        wait_delivered(control)
        pipeline = Pipeline(Worker(service.ledger, ingestor, graph, clock=service.ledger.clock), control, businesses[0],
                            emulator.graph_url)
        _wait_until(lambda: all(r.state == "done" for r in pipeline.inbox()), 30, "an empty inbox")
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(20)
    rows = pipeline.inbox()
    done = Counter(int(m) for log in logs for m in DONE.findall(log.read_text()))
    assert len(rows) > 100
    assert done == Counter({row.id: 1 for row in rows})
    assert sum(1 for log in logs if DONE.search(log.read_text())) > 1
    collected = Counter((e["refs"]["appointment"], e["refs"].get("customer")) for e in pipeline.entries("collected"))
    assert collected and max(collected.values()) == 1
