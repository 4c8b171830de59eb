"""`bookings-ledger demo`: everything on one machine, on SQLite, against the Graph emulator."""
from __future__ import annotations

import signal
import threading

import click


@click.command()
@click.option("--port", default=8000, show_default=True, help="Port of the web app and dashboard.")
@click.option("--emulator-port", default=8100, show_default=True, help="Port of the Graph emulator.")
def command(port: int, emulator_port: int) -> None:
    """Run the demo until Ctrl-C (or SIGTERM)."""
    from bookings_ledger.demo import run_demo

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    run_demo(port, emulator_port, stop)
