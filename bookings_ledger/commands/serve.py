"""`bookings-ledger serve`: the web app (webhooks, health, metrics, dashboard) under gunicorn.

`--only webhooks` is the internet-facing process: it holds CLIENT_STATE_KEY and no ledger key.
`--only dashboard` is the one reached from the organisation's network: it holds the ledger's keys
and SECRET_KEY. Without `--only` one process serves both (fine behind a proxy that exposes only
the webhook paths). A dashboard does not start without SECRET_KEY, nor with AUTH_MODE=local (one
shared password) unless `--allow-local-sign-in` says that is meant.
"""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from config import Settings

DEFAULT_BIND = "127.0.0.1:8000"


def _port(bind: str) -> int:
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"{bind!r} is not HOST:PORT", param_hint="--metrics-bind")
    return int(port)


def refuse_unsafe_dashboard(settings: Settings, allow_local_sign_in: bool) -> None:
    """A SettingsError (one line, exit 2) when the dashboard would start without SECRET_KEY or with
    local sign-in nobody asked for."""
    from config import SettingsError

    settings.require("SECRET_KEY")
    if settings.AUTH_MODE == "local" and not allow_local_sign_in:
        raise SettingsError("setting AUTH_MODE=local signs everyone in with one shared password: serve refuses it "
                            "unless --allow-local-sign-in is given (set AUTH_MODE=entra for real use)")


@click.command()
@click.option("--bind", default=DEFAULT_BIND, show_default=True, help="host:port to listen on.")
@click.option("--metrics-bind", default=None, metavar="HOST:PORT",
              help="An internal listener for /metrics and /readyz, which then leave the public one.")
@click.option("--workers", default=2, show_default=True, help="Worker processes (about one per core).")
@click.option("--threads", default=8, show_default=True, help="Threads per worker process.")
@click.option("--only", type=click.Choice(["webhooks", "dashboard"]), default=None,
              help="Serve only the webhooks (the internet-facing process) or only the dashboard; default both.")
@click.option("--allow-local-sign-in", is_flag=True,
              help="Start the dashboard with AUTH_MODE=local (a shared demo password): never for real data.")
def command(bind: str, metrics_bind: str | None, workers: int, threads: int, only: str | None,
            allow_local_sign_in: bool) -> None:
    """Serve the web app with gunicorn; stateless, so run as many as the load needs."""
    from bookings_ledger.app import DASHBOARD, SURFACES, close_app, create_app
    from bookings_ledger.gunicorn import serve
    from config import load_settings
    from database.engine import require_current_schema

    internal_port = _port(metrics_bind) if metrics_bind else None
    if internal_port is not None and internal_port == _port(bind):
        # Listeners are told apart by port: one port for both would publish the internal paths.
        raise click.BadParameter("must use another port than --bind", param_hint="--metrics-bind")
    surfaces = frozenset({only}) if only else SURFACES
    if DASHBOARD in surfaces:
        refuse_unsafe_dashboard(load_settings(), allow_local_sign_in)
    # Checked once here, before forking, so a broken deploy fails with one clear line instead
    # of every worker crashing in a loop.
    app = create_app(surfaces=surfaces)
    require_current_schema(app.extensions["bookings_ledger.engine"])
    close_app(app)
    binds = [bind, metrics_bind] if metrics_bind else [bind]
    serve(partial(create_app, internal_port=internal_port, surfaces=surfaces), binds=binds, workers=workers,
          threads=threads, close=close_app)
