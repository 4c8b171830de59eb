"""`bookings-ledger verify [--full]`: check the hash chain, the head and every checkpoint."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sqlalchemy import Engine


@click.command()
@click.option("--full", is_flag=True, help="Re-walk the whole chain, not just what follows the last verified checkpoint.")
def command(full: bool) -> None:
    """Exit 0 with a summary when the ledger is intact; exit 1 naming the first bad entry."""
    from config import load_settings
    from ledger.core import signed_notes
    from ledger.transactions import utc_now
    from database.engine import open_migrated
    from ledger.integrity import verify_ledger

    settings = load_settings()
    verifier_key = None
    if settings.CHECKPOINT_SIGNING_KEY is not None:
        verifier_key = signed_notes.verifier_key(settings.CHECKPOINT_ORIGIN, settings.key("CHECKPOINT_SIGNING_KEY"))
    engine = open_migrated(settings.DATABASE_URL)
    try:
        with _progress(engine) as advance:
            result = verify_ledger(
                engine, verifier_key=verifier_key, origin=settings.CHECKPOINT_ORIGIN, full=full, clock=utc_now, progress=advance
            )
    finally:
        engine.dispose()
    if result.ok:
        click.echo(result.message)
        return
    where = f"first bad seq {result.bad_seq}: " if result.bad_seq is not None else ""
    click.echo(f"ledger verification FAILED: {where}{result.message}")
    raise click.exceptions.Exit(1)


@contextmanager
def _progress(engine: Engine) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar when stdout is a terminal; otherwise None, and nothing is drawn."""
    if not sys.stdout.isatty():
        yield None
        return
    from rich.progress import Progress

    from database.engine import read_only
    from ledger.entries import head

    with read_only(engine) as connection:
        total, _hash = head(connection)
    with Progress(transient=True) as progress:
        task = progress.add_task("verifying", total=total)
        yield lambda count: progress.advance(task, count)
