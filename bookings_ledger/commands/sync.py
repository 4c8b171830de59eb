"""`bookings-ledger sync`: reconcile every booking business with Graph now, and show how far
behind Graph each completeness watermark is (`--status`: only that, without calling Graph)."""
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
@click.option("--status", is_flag=True, help="Only show each business's watermark and its lag; no Graph call.")
def command(status: bool) -> None:
    """Compare appointments and customers in Graph with the ledger, write the differences, back-fill gaps."""
    from config import load_settings
    from bookings_ledger.wiring import opened_services
    from database.engine import open_migrated

    settings = load_settings()
    settings.require("BOOKING_BUSINESSES")
    if not status:
        with progress_display() as progress, opened_services(settings, progress=progress) as services:
            services.retention.zones.refresh(services.businesses)   # retention days count on each one's calendar
            results = services.reconciler.reconcile_all(services.businesses)
        for result in results:
            click.echo(f"{result.business_id}: {result.appointments} appointments; {_counts(result.outcomes)}; "
                       f"{result.customers} customers; {_counts(result.customer_outcomes)}; "
                       f"{len(result.gaps_filled)} gaps back-filled")
    engine = open_migrated(settings.DATABASE_URL)
    try:
        for line in watermark_lines(engine, settings.booking_businesses):
            click.echo(line)
    finally:
        engine.dispose()


def watermark_lines(engine: Any, businesses: list[str]) -> list[str]:
    """One line per business: its watermark, how far behind now it is, its last delta round, open gaps."""
    from ledger.transactions import utc_now
    from state.delta_links import last_rounds
    from state.watermarks import sync_status, watermark_lags

    now = utc_now()
    lags, rounds = watermark_lags(engine, now), last_rounds(engine)
    lines = []
    for business in sync_status(engine, businesses):
        lag = lags.get(business.business_id)
        behind = f"{_duration(lag)} behind" if lag is not None else "no sweep yet"
        last_round = rounds.get(business.business_id)
        delta = f"last delta round {_duration((now - last_round).total_seconds())} ago" if last_round else "no delta round yet"
        lines.append(f"{business.business_id}: watermark {business.complete_until or '-'} ({behind}); {delta}; "
                     f"{len(business.open_gaps)} open gaps")
    return lines


def _duration(seconds: float) -> str:
    minutes, second = divmod(int(seconds), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}h{minute:02d}m" if hours else f"{minute}m{second:02d}s"


def _counts(outcomes: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items())) or "nothing"
