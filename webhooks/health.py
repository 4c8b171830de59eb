"""Health and metrics endpoints for load balancers and Prometheus."""
from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from webhooks.metrics import WebhookMetrics

bp = Blueprint("health", __name__)
READINESS = "bookings_ledger.readiness"
SCRAPE = "bookings_ledger.scrape"   # refreshes the database-backed gauges before each exposition
# The app's metrics, whatever it serves: a dashboard-only process has no receiver, and its scrape
# still shows the database-backed gauges (its receiver counters stay at zero).
METRICS = "bookings_ledger.metrics"


@bp.get("/healthz")
def healthz() -> Response:
    """The process is alive; checks nothing else, so a slow database never gets it killed."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready to take traffic: each named check passes (database reachable and migrated, …)."""
    checks: dict[str, Callable[[], str | None]] = current_app.extensions[READINESS]
    failures = {name: problem for name, check in checks.items() if (problem := check()) is not None}
    body = {"status": "ready" if not failures else "not ready", "checks": {n: failures.get(n, "ok") for n in checks}}
    return jsonify(body), 200 if not failures else 503


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus exposition of the receiver's counters and the gauges read from the database."""
    metrics: WebhookMetrics = current_app.extensions[METRICS]
    scrape = current_app.extensions.get(SCRAPE)
    if scrape is not None:
        scrape(metrics)
    return Response(generate_latest(metrics.registry), mimetype=CONTENT_TYPE_LATEST)
