"""Health and metrics endpoints for load balancers and Prometheus."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from webhooks.receiver import EXTENSION, Receiver

bp = Blueprint("health", __name__)
READINESS = "bookings_ledger.readiness"


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
    """Prometheus exposition of the receiver's counters and the inbox gauges."""
    receiver: Receiver = current_app.extensions[EXTENSION]
    inbox_depth = current_app.extensions.get("bookings_ledger.inbox_depth")
    if inbox_depth is not None:
        count, oldest = inbox_depth()
        receiver.metrics.inbox_depth.set(count)
        receiver.metrics.inbox_oldest_age.set(_age_seconds(oldest))
    return Response(generate_latest(receiver.metrics.registry), mimetype=CONTENT_TYPE_LATEST)


def _age_seconds(stamp: str | None) -> float:
    if stamp is None:
        return 0.0
    then = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return max(0.0, (datetime.now(timezone.utc) - then).total_seconds())
