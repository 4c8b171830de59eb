"""`bookings-ledger serve`: the web app (webhooks, health, metrics, dashboard) under gunicorn."""
from __future__ import annotations

from functools import partial

import click

DEFAULT_BIND = "127.0.0.1:8000"


def _port(bind: str) -> int:
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"{bind!r} is not HOST:PORT", param_hint="--metrics-bind")
    return int(port)


@click.command()
@click.option("--bind", default=DEFAULT_BIND, show_default=True, help="host:port to listen on.")
@click.option("--metrics-bind", default=None, metavar="HOST:PORT",
              help="An internal listener for /metrics and /readyz, which then leave the public one.")
@click.option("--workers", default=2, show_default=True, help="Worker processes (about one per core).")
@click.option("--threads", default=8, show_default=True, help="Threads per worker process.")
def command(bind: str, metrics_bind: str | None, workers: int, threads: int) -> None:
    """Serve the web app with gunicorn; stateless, so run as many as the load needs."""
    from bookings_ledger.app import create_app
    from bookings_ledger.gunicorn import serve
    from database.engine import require_current_schema

    internal_port = _port(metrics_bind) if metrics_bind else None
    if internal_port is not None and internal_port == _port(bind):
        # Listeners are told apart by port: one port for both would publish the internal paths.
        raise click.BadParameter("must use another port than --bind", param_hint="--metrics-bind")
    # Checked once here, before forking, so a broken deploy fails with one clear line instead
    # of every worker crashing in a loop.
    engine = create_app().extensions["bookings_ledger.engine"]
    require_current_schema(engine)
    engine.dispose()
    binds = [bind, metrics_bind] if metrics_bind else [bind]
    serve(partial(create_app, internal_port=internal_port), binds=binds, workers=workers, threads=threads)
