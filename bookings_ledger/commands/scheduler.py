"""`bookings-ledger scheduler`: subscription renewal, reconciliation, gap back-fills and checkpoints."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import click


def checkpoint_job(ledger: Any, settings: Any) -> Callable[[], Mapping[str, Any]]:
    """The checkpoint job: sign the ledger as it stands and write the note to CHECKPOINT_DIR."""
    from ledger.checkpoint_store import CheckpointSigner, publish_checkpoint

    signer = CheckpointSigner.from_settings(settings)

    def run() -> Mapping[str, Any]:
        return {"size": publish_checkpoint(ledger.engine, signer, ledger.clock(), settings.CHECKPOINT_DIR).size}

    return run


@click.command()
@click.option("--metrics-port", type=int, default=None,
              help="Serve Prometheus metrics (Graph calls by status, job runs) on this port; off by default.")
def command(metrics_port: int | None) -> None:
    """Run the scheduled jobs; start two for availability: only the lease holder works."""
    from config import load_settings
    from jobs.metrics import JobMetrics
    from jobs.scheduler import LeasedRunner, build_scheduler, record_downtime, service_jobs
    from jobs.services import opened_services

    settings = load_settings()
    settings.require("BOOKING_BUSINESSES")
    metrics = JobMetrics()
    with opened_services(settings, observe=metrics.graph_call) as services:
        if metrics_port is not None:
            metrics.serve(metrics_port)
        ledger = services.ledger
        runner = LeasedRunner(ledger.engine, ledger.clock, metrics=metrics)
        record_downtime(ledger, services.businesses)
        interval = timedelta(minutes=settings.RECONCILE_INTERVAL_MINUTES)
        scheduler = build_scheduler(runner, service_jobs(services, checkpoint_job(ledger, settings), interval))
        click.echo(f"scheduler {runner.holder} started; Ctrl-C stops it")
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            runner.release()
