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
    from ledger.checkpoint_store import verifier_key_from_settings
    from ledger.transactions import utc_now
    from database.engine import open_migrated
    from ledger.integrity import verify_ledger

    settings = load_settings()
    # Checked only when there are checkpoints to verify (verify_ledger asks for it then).
    verifier_key = verifier_key_from_settings(settings) if settings.CHECKPOINT_VERIFIER_KEY else None
    engine = open_migrated(settings.DATABASE_URL)
    try:
        with _progress(engine) as advance:
            result = verify_ledger(
                engine, verifier_key=verifier_key, origin=settings.CHECKPOINT_ORIGIN, clock=utc_now,
                since_checkpoint=since_checkpoint, progress=advance,
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
