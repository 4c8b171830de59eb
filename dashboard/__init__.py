"""The privacy officer's dashboard: Flask blueprints over the ledger's projections and the working state.

It reads projections and records intents (a hold, a view); the jobs carry them out. Every route
declares who may use it (`dashboard.roles`); a route that does not is refused to everyone, so
none can be forgotten. `register` is called by the app factory of a process that serves the
dashboard, the only web process that holds the ledger's keys (bookings_ledger/app.py).
"""
from __future__ import annotations

import importlib

from flask import Flask

from dashboard import roles, security, sessions
from dashboard.context import EXTENSION, DashboardContext

# One module per area, each exporting a blueprint `bp`; the frame first (templates, static files).
PAGES = ("frame", "signin", "entra", "overview", "charts", "integrity", "subjects", "records", "audit",
         "holds", "retention", "processing_record", "notices", "admin", "portal", "requests")


def register(app: Flask, context: DashboardContext) -> None:
    """Sessions, the security headers and sign-in limits, the role guard and every page of the dashboard, on `app`."""
    app.extensions[EXTENSION] = context
    sessions.install(app, context)
    security.install(app, context)
    roles.install(app)
    for name in PAGES:
        app.register_blueprint(importlib.import_module(f"dashboard.{name}").bp)
