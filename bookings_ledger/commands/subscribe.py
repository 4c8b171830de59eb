"""`bookings-ledger subscribe`: create or renew the Graph subscription of every booking business."""
from __future__ import annotations

import click


@click.command()
@click.option("--rotate-client-state", is_flag=True,
              help="Give every subscription a new clientState (a successor is created before the old one goes).")
def command(rotate_client_state: bool) -> None:
    """One pass of the renewal job: create missing subscriptions, renew due ones, recreate gone ones."""
    from config import load_settings
    from bookings_ledger.wiring import opened_services
    from jobs.subscriptions import CLIENT_STATE_GRACE

    settings = load_settings()
    settings.require("BOOKING_BUSINESSES")
    with opened_services(settings) as services:
        manager = services.subscriptions
        report = manager.rotate_client_states() if rotate_client_state else manager.ensure_all()
    if report.skipped:
        click.echo("another instance is managing the subscriptions right now; nothing done")
        return
    if rotate_client_state:
        click.echo(f"clientStates rotated: {len(report.rotated)} subscriptions replaced; the old secrets are "
                   f"accepted for {CLIENT_STATE_GRACE} more")
        return
    click.echo(f"subscriptions: {len(report.created)} created, {len(report.renewed)} renewed, "
               f"{len(report.recreated)} recreated, {len(report.unchanged)} unchanged")
