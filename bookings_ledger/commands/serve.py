"""`bookings-ledger serve`: the web app (webhooks, health, metrics, dashboard) under gunicorn."""
from __future__ import annotations

import click

DEFAULT_BIND = "127.0.0.1:8000"


@click.command()
@click.option("--bind", default=DEFAULT_BIND, show_default=True, help="host:port to listen on.")
@click.option("--workers", default=2, show_default=True, help="Worker processes (about one per core).")
@click.option("--threads", default=8, show_default=True, help="Threads per worker process.")
def command(bind: str, workers: int, threads: int) -> None:
    """Serve the web app with gunicorn; stateless, so run as many as the load needs."""
    from bookings_ledger.app import create_app
    from bookings_ledger.gunicorn import serve
    from database.engine import require_current_schema

    # Checked once here, before forking, so a broken deploy fails with one clear line instead
    # of every worker crashing in a loop.
    engine = create_app().extensions["bookings_ledger.engine"]
    require_current_schema(engine)
    engine.dispose()
    serve(create_app, bind=bind, workers=workers, threads=threads)
