"""`bookings-ledger sync`: reconcile every booking business with Graph now."""
from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import click


class RichProgress:
    """A rich progress bar: one task per business, advanced per calendarView window."""

    def __init__(self, progress: Any) -> None:
        self._progress, self._task = progress, None

    def begin(self, business_id: str, windows: int) -> None:
        self._task = self._progress.add_task(business_id, total=windows)

    def advance(self, appointments: int) -> None:
        self._progress.advance(self._task)


@contextmanager
def progress_display() -> Iterator[RichProgress | None]:
    """A progress bar on a terminal; nothing when output is piped or logged."""
    if not sys.stdout.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=False) as progress:
        yield RichProgress(progress)


@click.command()
def command() -> None:
    """Compare appointments and customers in Graph with the ledger, write the differences, back-fill gaps."""
    from config import load_settings
    from bookings_ledger.wiring import opened_services

    settings = load_settings()
    settings.require("BOOKING_BUSINESSES")
    with progress_display() as progress, opened_services(settings, progress=progress) as services:
        results = services.reconciler.reconcile_all(services.businesses)
    for result in results:
        click.echo(f"{result.business_id}: {result.appointments} appointments; {_counts(result.outcomes)}; "
                   f"{result.customers} customers; {_counts(result.customer_outcomes)}; "
                   f"{len(result.gaps_filled)} gaps back-filled")


def _counts(outcomes: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())) or "nothing"
