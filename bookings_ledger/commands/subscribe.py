"""`bookings-ledger subscribe`: create or renew the Graph subscription of every booking business."""
from __future__ import annotations

import click


@click.command()
def command() -> None:
    """One pass of the renewal job: create missing subscriptions, renew due ones, recreate gone ones."""
    from config import load_settings
    from bookings_ledger.wiring import opened_services

    settings = load_settings()
    settings.require("BOOKING_BUSINESSES")
    with opened_services(settings) as services:
        report = services.subscriptions.ensure_all()
    if report.skipped:
        click.echo("another instance is managing the subscriptions right now; nothing done")
        return
    click.echo(f"subscriptions: {len(report.created)} created, {len(report.renewed)} renewed, "
               f"{len(report.recreated)} recreated, {len(report.unchanged)} unchanged")
