"""The admin pages: for Admin and PrivacyOfficer only; health from the very checks /readyz runs, job
runs with outcomes, durations and the lease holder, the inbox; every setting with secrets shown
only as set / not set; the subscriptions without their clientState; /metrics in a dashboard-only process."""
from __future__ import annotations

import base64
import os
import re
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from bookings_ledger.keys import generate_all_keys
from config import load_settings
from dashboard.admin_settings import setting_lines
from state.client_states import ClientStateKeys
from state.inbox import InboxItem, accept
from state.leases import acquire_lease, finish_run, start_run
from state.subscriptions import save_subscription

from conftest import NOW, signed_in

PAGES = ("/admin", "/admin/settings", "/admin/subscriptions")
BUSINESS = "clinic@contoso.com"
SUBSCRIPTION = "5c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e"
CLIENT_STATE = "known-client-state-" + "q" * 40
SECRETS = {
    "SECRET_KEY": "flask-session-secret-0123456789abcdef",
    "DASHBOARD_CLIENT_SECRET": "entra~dashboard~secret~value~42",
    "GRAPH_CLIENT_SECRET": "entra~graph~secret~value~4711",
    "DATABASE_OWNER_URL": "postgresql+psycopg://ledger_owner:owner-pass-9@db.internal:5432/ledger",
}


@pytest.fixture
def dashboard_settings(dashboard_settings: dict[str, str]) -> dict[str, str]:
    """The dashboard's settings with known secrets and a business to report on."""
    return {**dashboard_settings, **SECRETS, "BOOKING_BUSINESSES": BUSINESS}


@pytest.fixture(autouse=True)
def _other_pages(dashboard_app):
    """The layout links to other parts' pages, which this branch may not have yet: those links build
    to a placeholder; a link to an admin page must build for real."""
    def placeholder(error, endpoint, values):
        if endpoint.startswith("admin."):
            raise error
        return f"/not-built/{endpoint}"
    dashboard_app.url_build_error_handlers.append(placeholder)


def _page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("role", ["Admin", "PrivacyOfficer"])
def test_admin_and_officer_open_each_admin_page(dashboard_app, role, path):
    assert signed_in(dashboard_app, role).get(path).status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_auditors_users_without_a_role_and_anonymous_visitors_are_refused(dashboard_app, auditor, path):
    assert auditor.get(path).status_code == 403
    assert signed_in(dashboard_app, None).get(path).status_code == 403
    anonymous = dashboard_app.test_client().get(path)
    assert anonymous.status_code == 302 and "sign" in anonymous.headers["Location"]   # to the sign-in page


def test_health_shows_the_readiness_checks_with_their_outcomes(admin):
    """The page's checks are /readyz's: the same names, the same problems (a business with no subscription)."""
    ready = admin.get("/readyz").get_json()
    assert ready["checks"]["database"] == "ok" and ready["checks"]["subscriptions"] != "ok"
    page = _page(admin, "/admin")
    for name, outcome in ready["checks"].items():
        assert re.search(rf"<th scope=\"row\">{name}</th>\s*<td><span class=\"status-\w+\">{re.escape(outcome)}</span>", page), name


def test_job_runs_show_outcome_duration_holder_and_the_lease(dashboard, admin):
    engine = dashboard.engine
    acquire_lease(engine, "scheduler", "scheduler-abc123", NOW, timedelta(seconds=60))
    ok = start_run(engine, "reconcile", "scheduler-abc123", NOW - timedelta(minutes=10))
    finish_run(engine, ok, NOW - timedelta(minutes=10) + timedelta(seconds=42.5), outcome="ok", detail={"sweeps": []})
    failed = start_run(engine, "checkpoint", "scheduler-abc123", NOW - timedelta(minutes=5))
    finish_run(engine, failed, NOW - timedelta(minutes=5, seconds=-3), outcome="failed", detail={"error": "OperationalError"})
    start_run(engine, "checkpoint", "scheduler-abc123", NOW)
    page = _page(admin, "/admin")
    assert "<h3>reconcile</h3>" in page and "<h3>checkpoint</h3>" in page
    assert "42.5" in page and "failed (OperationalError)" in page and "running" in page
    assert page.count("scheduler-abc123") == 4   # the lease and the three runs


def test_the_inbox_depth_and_the_last_notification_received(dashboard, admin):
    assert "none yet" in _page(admin, "/admin")
    items = [InboxItem("change", SUBSCRIPTION, "created", f"Users/u/Events/e{n}", f"e{n}", None) for n in range(3)]
    accept(dashboard.engine, items[:2], NOW - timedelta(minutes=3))
    accept(dashboard.engine, items[2:], NOW - timedelta(minutes=1))
    page = _page(admin, "/admin")
    assert re.search(r"Notifications waiting</dt><dd>3</dd>", page)
    assert "2026-12-01T09:29:00" in page and "2026-12-01T09:27:00" in page


def test_settings_show_every_value_and_of_secrets_only_whether_they_are_set(dashboard_settings, admin):
    page = _page(admin, "/admin/settings")
    for name in type(load_settings(dashboard_settings)).model_fields:
        assert f"<code>{name}</code>" in page, name
    secret_names = [*SECRETS, "LOCAL_PASSWORD", *(name for name in generate_all_keys() if name != "CLIENT_STATE_KEY")]
    for name, value in ((name, dashboard_settings[name]) for name in secret_names):
        assert re.search(rf"<code>{name}</code></th>\s*<td><span class=\"status-good\">set</span>", page), name
        assert value[-8:] not in page, name
        # The verifier key starts with the checkpoints' public origin, which the page shows as a setting.
        assert name == "CHECKPOINT_VERIFIER_KEY" or value[:8] not in page, name
    assert re.search(r"<code>CLIENT_STATE_KEY</code></th>\s*<td><span class=\"status-warn\">not set</span>", page)
    assert f"<code>{BUSINESS}</code>" in page and "<code>local</code>" in page   # plain values are shown


def test_a_password_in_a_database_url_is_masked():
    settings = load_settings({"DATABASE_URL": "postgresql+psycopg://ledger:hunter2-db-pass@db.internal:5432/ledger",
                              "KEYSTORE_URL": "postgresql+psycopg://db.internal/keys?password=other-pass-77&sslmode=require",
                              "CHECKPOINT_VERIFIER_KEY": "bookings-ledger.local/ledger+abcd1234+AAAApublic"})
    shown = {line.name: line.value for line in setting_lines(settings)}
    assert shown["DATABASE_URL"] == "postgresql+psycopg://ledger:***@db.internal:5432/ledger"
    assert shown["KEYSTORE_URL"] == "postgresql+psycopg://db.internal/keys?***"
    assert shown["CHECKPOINT_VERIFIER_KEY"] == "set"   # named *_KEY: redacted though public, by the rule
    assert shown["GRAPH_BASE_URL"] == "https://graph.microsoft.com/v1.0"


def test_subscriptions_per_business_with_lifecycle_events_and_never_the_client_state(dashboard, admin):
    keys = ClientStateKeys(os.urandom(32))
    with Session(dashboard.engine) as session, session.begin():
        save_subscription(session, keys, subscription_id=SUBSCRIPTION, business_id=BUSINESS,
                          resource=f"users/{BUSINESS}/events", client_state=CLIENT_STATE,
                          expires_at=NOW + timedelta(hours=30), now=NOW - timedelta(hours=2))
    lifecycle = InboxItem("lifecycle", SUBSCRIPTION, "reauthorizationRequired", f"users/{BUSINESS}/events", None, "n1")
    accept(dashboard.engine, [lifecycle], NOW - timedelta(minutes=20))
    page = _page(admin, "/admin/subscriptions")
    assert f"<h2>{BUSINESS}</h2>" in page and SUBSCRIPTION in page and f"users/{BUSINESS}/events" in page
    assert "(30 h)" in page and "active" in page and "2026-12-01T07:30:00" in page
    assert "reauthorizationRequired at 2026-12-01T09:10:00" in page
    digest = keys.digest(CLIENT_STATE)
    for forbidden in (CLIENT_STATE, CLIENT_STATE[:12], digest.hex()[:12], base64.b64encode(digest).decode()[:12]):
        assert forbidden not in page


def test_a_business_without_a_subscription_says_what_to_run(admin):
    assert "bookings-ledger subscribe" in _page(admin, "/admin/subscriptions")


def test_metrics_answer_in_a_process_that_serves_only_the_dashboard(dashboard_app, dashboard):
    accept(dashboard.engine, [InboxItem("change", SUBSCRIPTION, "created", "Users/u/Events/e", "e", None)], NOW)
    response = dashboard_app.test_client().get("/metrics")
    assert response.status_code == 200 and "bl_inbox_depth 1.0" in response.get_data(as_text=True)
