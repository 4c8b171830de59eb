"""The IT admin's pages: health and job runs, the settings in force, the Graph subscriptions.

For the Admin role (and the privacy officer, who may see everything); never personal data. The
health section runs the very checks /readyz runs: the app factory hands them over under
READINESS (the dashboard may not import webhooks/), so the two can never disagree.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, current_app, render_template

from dashboard import admin_status
from dashboard.admin_settings import setting_lines
from dashboard.context import context
from dashboard.roles import ADMIN, PRIVACY_OFFICER, allow

bp = Blueprint("admin", __name__)
READINESS = "bookings_ledger.dashboard.readiness"   # name -> check returning None (ok) or the problem


@bp.get("/admin")
@allow(ADMIN, PRIVACY_OFFICER)
def admin_page() -> str:
    """Health (the readiness checks), the scheduler's lease and job runs, the inbox."""
    engine = context().engine
    checks: dict[str, Callable[[], str | None]] = current_app.extensions[READINESS]
    health = {name: check() for name, check in checks.items()}
    return render_template("admin/admin.html", health=health, lease=admin_status.scheduler_lease(engine),
                           runs=admin_status.job_runs(engine), inbox=admin_status.inbox_status(engine))


@bp.get("/admin/settings")
@allow(ADMIN, PRIVACY_OFFICER)
def settings_page() -> str:
    """Every setting and its value; secrets only as set or not set."""
    return render_template("admin/settings.html", settings=setting_lines(context().settings))


@bp.get("/admin/subscriptions")
@allow(ADMIN, PRIVACY_OFFICER)
def subscriptions_page() -> str:
    """Per business: its subscriptions' ids, resources, expiries, states, renewals and lifecycle events."""
    ctx = context()
    by_business = admin_status.subscriptions_by_business(ctx.engine, ctx.settings.booking_businesses)
    return render_template("admin/subscriptions.html", by_business=by_business, now=ctx.clock(),
                           hours_until=admin_status.hours_until)
