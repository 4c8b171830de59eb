"""`bookings-ledger scheduler`: subscription renewal, mailbox delta rounds, reconciliation, gap
back-fills, checkpoints and the working state's purge."""
from __future__ import annotations

import signal

import click


@click.command()
@click.option("--metrics-port", type=int, default=None,
              help="Serve Prometheus metrics (Graph calls by status, job runs) on this port; off by default.")
def command(metrics_port: int | None) -> None:
    """Run the scheduled jobs; start two for availability: only the lease holder works."""
    from config import load_settings
    from jobs.metrics import JobMetrics
    from jobs.scheduler import LeasedRunner, build_scheduler, record_downtime, service_jobs
    from bookings_ledger.wiring import opened_services, schedule_from_settings
    from jobs.checkpoints import checkpoint_job
    from ledger.checkpoint_store import CheckpointSigner

    # SIGINT (Ctrl-C, the units' KillSignal) is taken explicitly, from the start: a process started
    # in the background of a script, or under nohup, inherits it ignored, and Python then never
    # raises KeyboardInterrupt, so the scheduler would run on until SIGKILL.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    settings = load_settings()
    settings.require("BOOKING_BUSINESSES")
    signer = CheckpointSigner.from_settings(settings)
    metrics = JobMetrics()
    with opened_services(settings, observe=metrics.graph_call, on_child_flagged=metrics.child_flagged) as services:
        if metrics_port is not None:
            metrics.serve(metrics_port)
        ledger = services.ledger
        runner = LeasedRunner(ledger.engine, ledger.clock, metrics=metrics)
        record_downtime(ledger, services.businesses)
        checkpoint = checkpoint_job(ledger, signer, settings.CHECKPOINT_DIR)
        scheduler = build_scheduler(runner, service_jobs(services, checkpoint, schedule_from_settings(settings)))
        click.echo(f"scheduler {runner.holder} started; Ctrl-C stops it")
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            runner.release()
