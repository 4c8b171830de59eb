"""`bookings-ledger doctor [--json]`: check settings, Graph, the public URL, databases, files and keys."""
from __future__ import annotations

import click

from .shared import JSON_OPTION, print_document


@click.command()
@JSON_OPTION
def command(as_json: bool) -> None:
    """One line per check (ok, warn, FAIL) with what to fix; exit 1 when anything blocks the service."""
    from bookings_ledger.doctor import blocks, diagnose

    lines = diagnose()
    failed = blocks(lines)
    print_document({"ok": not failed, "checks": [line.as_dict() for line in lines]}, as_json,
                   lines=[line.render() for line in lines])
    if failed:
        raise click.exceptions.Exit(1)
