"""`bookings-ledger worker`: process the webhook inbox into the ledger (run as many as needed on PostgreSQL)."""
from __future__ import annotations

import signal
import threading

import click


@click.command()
@click.option("--interval", default=1.0, show_default=True,
              help="Seconds between inbox polls; notifications arriving meanwhile share Graph reads.")
@click.option("--batch-size", default=500, show_default=True, help="Inbox rows claimed per cycle.")
@click.option("--once", is_flag=True, help="Process the rows due now, then exit.")
@click.option("--metrics-port", type=int, default=None,
              help="Serve Prometheus metrics (Graph calls by status, rows processed) on this port; off by default.")
def command(interval: float, batch_size: int, once: bool, metrics_port: int | None) -> None:
    """Claim inbox rows, re-read Bookings in batches, write ledger entries; stops on SIGTERM or Ctrl-C."""
    from bookings_ledger.wiring import build_worker, opened_process, sync_services
    from config import load_settings
    from jobs.metrics import JobMetrics

    settings = load_settings()
    metrics = JobMetrics()
    if metrics_port is not None:
        metrics.serve(metrics_port)
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    with opened_process(settings, observe=metrics.graph_call, on_child_flagged=metrics.child_flagged) as process:
        services = sync_services(settings, process.ledger, process.graph, process.ingestor)
        worker = build_worker(process, services, batch_size=batch_size, metrics=metrics)
        if once:
            worker.run_once()
        else:
            worker.run(stop, interval=interval)

