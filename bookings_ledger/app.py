"""The Flask app factory: reads like a table of contents and starts nothing at import time.

`create_app` loads settings, builds the collaborators the blueprints need, registers the
blueprints and one error shape. Threads, schedulers and Graph clients belong to the `serve`,
`worker`, `scheduler` and `demo` entry points, never to the factory.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime, timezone
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from config import Settings, load_settings
from database.engine import SchemaNotCurrent, create_ledger_engine, require_current_schema
from bookings_ledger import listeners
from bookings_ledger.request_ids import register_request_ids
from state.client_states import ClientStateKeys
from state.subscription_lookup import SubscriptionLookup
from state.subscriptions import subscriptions_problem
from webhooks import health, receiver
from webhooks.inbox import LedgerInbox
from webhooks.metrics import WebhookMetrics
from webhooks.problems import problem

MAX_NOTIFICATION_BYTES = 1024 * 1024  # Graph's batches are a few kB; anything near 1 MiB is not Graph
WEBHOOKS, DASHBOARD = "webhooks", "dashboard"
SURFACES = frozenset({WEBHOOKS, DASHBOARD})
CLOSERS = "bookings_ledger.closers"


def create_app(overrides: dict[str, Any] | None = None, *, clock: Callable[[], datetime] | None = None,
               internal_port: int | None = None, surfaces: frozenset[str] = frozenset({WEBHOOKS})) -> Flask:
    """A configured app; `overrides` replace settings (tests), `clock` replaces the wall clock,
    `internal_port` moves /metrics and /readyz to the listener on that port (`serve --metrics-bind`),
    `surfaces` says what it serves besides health: the webhooks, the dashboard, or both.

    The webhooks need CLIENT_STATE_KEY and GRAPH_TENANT_ID, and no other key: a webhooks-only
    process (the internet-facing one) never holds LEDGER_MASTER_KEY, BLIND_INDEX_KEY or
    CHECKPOINT_SIGNING_KEY. The dashboard needs the ledger's keys and SECRET_KEY, and no CLIENT_STATE_KEY.
    """
    settings = load_settings(overrides)
    now = clock or (lambda: datetime.now(timezone.utc))
    app = Flask("bookings_ledger")
    app.config.update(MAX_CONTENT_LENGTH=MAX_NOTIFICATION_BYTES, SETTINGS=settings)
    app.extensions[CLOSERS] = ExitStack()
    register_request_ids(app)   # first, so every other hook's log lines carry the id
    register_extensions(app, settings, now, surfaces)
    if WEBHOOKS in surfaces:
        app.register_blueprint(receiver.bp)
    app.register_blueprint(health.bp)
    if DASHBOARD in surfaces:
        register_dashboard(app, settings, now)
    register_errorhandlers(app)
    listeners.register_security_headers(app)
    if internal_port is not None:
        listeners.register_internal_listener(app, internal_port)
    return app


def close_app(app: Flask) -> None:
    """Release what `create_app` opened: the inbox writer's connection, the ledger and the database pools."""
    if receiver.EXTENSION in app.extensions:
        app.extensions[receiver.EXTENSION].inbox.close()
    app.extensions[CLOSERS].close()
    app.extensions["bookings_ledger.engine"].dispose()


def register_extensions(app: Flask, settings: Settings, clock: Callable[[], datetime], surfaces: frozenset[str]) -> None:
    """The database, the metrics, the receiver's collaborators (when it serves the webhooks) and the
    readiness checks."""
    engine = create_ledger_engine(settings.DATABASE_URL)
    app.extensions["bookings_ledger.engine"] = engine
    metrics = app.extensions[health.METRICS] = WebhookMetrics()
    if WEBHOOKS in surfaces:
        keys = ClientStateKeys.from_settings(settings)
        tenant_id = settings.require("GRAPH_TENANT_ID")
        app.extensions[receiver.EXTENSION] = receiver.Receiver(
            subscriptions=SubscriptionLookup(engine, clock), client_state_keys=keys, tenant_id=tenant_id,
            inbox=LedgerInbox(engine, clock, on_commit=metrics.commit_items.observe), metrics=metrics,
        )
    app.extensions[health.SCRAPE] = lambda metrics: metrics.refresh(engine, clock())
    app.extensions[health.READINESS] = {
        "database": lambda: _database_problem(engine),
        "subscriptions": lambda: _guarded(lambda: subscriptions_problem(engine, settings.booking_businesses, clock())),
    }


def _database_problem(engine: Any) -> str | None:
    try:
        require_current_schema(engine)
    except SchemaNotCurrent as exc:
        return str(exc)
    except Exception as exc:  # any driver error means "not reachable"; its class says which
        return f"unreachable ({type(exc).__name__})"
    return None


def _guarded(check: Callable[[], str | None]) -> str | None:
    try:
        return check()
    except Exception as exc:  # e.g. not migrated yet: the database check names the fix
        return f"unknown ({type(exc).__name__})"


def register_dashboard(app: Flask, settings: Settings, clock: Callable[[], datetime]) -> None:
    """The dashboard over a ledger of its own (with the key store), closed by `close_app`, and the
    request gauges on /metrics (read from the ledger's projection, which the webhooks may not import)."""
    import dashboard
    from bookings_ledger.wiring import opened_ledger
    from config.retention import load_policy
    from dashboard import admin
    from dashboard.context import DashboardContext
    from dashboard.request_metrics import RequestGauges

    app.extensions[admin.READINESS] = app.extensions[health.READINESS]   # the admin page runs /readyz's checks
    ledger = app.extensions[CLOSERS].enter_context(opened_ledger(settings, clock=clock))
    app.extensions[health.METRICS].registry.register(RequestGauges(ledger.engine, clock, settings.REQUEST_ALERT_DAYS))
    dashboard.register(app, DashboardContext(settings, ledger, load_policy(settings.RETENTION_POLICY_FILE), clock))


def register_errorhandlers(app: Flask) -> None:
    """Every error leaves as problem+json, an unexpected one logged by class only; an oversized
    notification is counted."""

    def http_error(error: HTTPException) -> Response:
        if error.code == 413:
            app.extensions[health.METRICS].rejected.labels("too_large").inc()
        return problem(error.code or 500, error.name)

    def unexpected_error(error: Exception) -> Response:
        # Flask's own handler would log the traceback, whose message may quote a refused row
        # (personal data): log the request and the exception's class, answer one shape.
        app.logger.error("%s %s failed: %s", request.method, request.path, type(error).__name__)
        return problem(500, "Internal Server Error")

    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)
