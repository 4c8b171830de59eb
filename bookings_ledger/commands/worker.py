"""`bookings-ledger worker`: process the webhook inbox into the ledger (run as many as needed on PostgreSQL)."""
from __future__ import annotations

import logging
import signal
import threading
from functools import partial
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from config import Settings
    from connector import GraphConnector
    from jobs.ingest import Ingestor
    from jobs.worker import LifecycleHandler
    from ledger.api import Ledger


@click.command()
@click.option("--interval", default=1.0, show_default=True,
              help="Seconds between inbox polls; notifications arriving meanwhile share Graph reads.")
@click.option("--batch-size", default=500, show_default=True, help="Inbox rows claimed per cycle.")
@click.option("--once", is_flag=True, help="Process the rows due now, then exit.")
@click.option("--metrics-port", type=int, default=None,
              help="Serve Prometheus metrics (Graph calls by status, rows processed) on this port; off by default.")
def command(interval: float, batch_size: int, once: bool, metrics_port: int | None) -> None:
    """Claim inbox rows, re-read Bookings in batches, write ledger entries; stops on SIGTERM or Ctrl-C."""
    from config import load_settings
    from config.retention import load_policy
    from connector import connector_from_settings
    from jobs.ingest import Ingestor
    from jobs.metrics import JobMetrics
    from jobs.worker import Worker
    from ledger.api import Ledger, LedgerKeys, utc_now
    from ledger.db import open_migrated

    settings = load_settings()
    logging.basicConfig(level=settings.LOG_LEVEL, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    engine = open_migrated(settings.DATABASE_URL)
    ledger = Ledger(engine, LedgerKeys.from_settings(settings), utc_now)
    ingestor = Ingestor(ledger, load_policy(settings.RETENTION_POLICY_FILE), clock=utc_now)
    metrics = JobMetrics()
    if metrics_port is not None:
        metrics.serve(metrics_port)
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    try:
        with connector_from_settings(settings, observe=metrics.graph_call) as graph:
            worker = Worker(ledger, ingestor, graph, clock=utc_now, batch_size=batch_size, metrics=metrics,
                            lifecycle=_lifecycle_handler(settings, ledger, graph, ingestor))
            if once:
                worker.run_once()
            else:
                worker.run(stop, interval=interval)
    finally:
        engine.dispose()


def _lifecycle_handler(settings: Settings, ledger: Ledger, graph: GraphConnector, ingestor: Ingestor) -> LifecycleHandler:
    """jobs.lifecycle.handle bound to this process's services (subscriptions, reconciliation)."""
    from jobs import lifecycle
    from jobs.services import sync_services

    return partial(lifecycle.handle, services=sync_services(settings, ledger, graph, ingestor).lifecycle)
