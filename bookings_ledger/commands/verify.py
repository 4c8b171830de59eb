"""`bookings-ledger verify [--since-checkpoint]`: re-hash the chain, check the head and every checkpoint."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sqlalchemy import Engine


@click.command()
@click.option(
    "--since-checkpoint", is_flag=True,
    help="Shortcut: re-hash only what follows the checkpoint the last verify checked (trusts it for the rest).",
)
def command(since_checkpoint: bool) -> None:
    """Exit 0 with a summary when the ledger is intact; exit 1 naming the first bad entry."""
    from config import load_settings
    from ledger.transactions import utc_now
    from database.engine import open_migrated
    from ledger.integrity import verify_with_settings

    settings = load_settings()
    engine = open_migrated(settings.DATABASE_URL)
    try:
        with _progress(engine) as advance:
            result = verify_with_settings(engine, settings, clock=utc_now, since_checkpoint=since_checkpoint,
                                          progress=advance)
    finally:
        engine.dispose()
    click.echo(result.describe())
    if not result.ok:
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
