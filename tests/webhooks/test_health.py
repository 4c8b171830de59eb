"""Health, readiness and metrics endpoints."""
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bookings_ledger.app import close_app, create_app
from state import inbox


def test_healthz_answers_without_checking_anything(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_is_ready_on_a_migrated_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["database"] == "ok"


def test_readyz_names_the_command_on_an_unmigrated_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    app = create_app({"DATABASE_URL": url, "CLIENT_STATE_KEY": "A" * 43 + "=", "GRAPH_TENANT_ID": "t"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "bookings-ledger db upgrade" in response.get_json()["checks"]["database"]
    close_app(app)


def test_metrics_export_inbox_depth(client, subscription):
    body = client.get("/metrics").get_data(as_text=True)
    assert "bl_inbox_depth 0.0" in body
    assert 'bl_notifications_rejected_total{reason="malformed"} 0.0' in body


def test_metrics_export_the_subscription_expiry_margin_per_business(client, subscription):
    body = client.get("/metrics").get_data(as_text=True)
    assert 'bl_subscription_expiry_margin_seconds{business="clinic@contoso.com"} 172800.0' in body


def test_metrics_export_recent_processing_latency_from_the_database(app, client, now):
    engine = app.extensions["bookings_ledger.engine"]
    items = [inbox.InboxItem("change", "sub-1", "updated", "r", f"e{i}", None) for i in range(20)]
    inbox.accept(engine, items, now - timedelta(minutes=1))
    with Session(engine) as session, session.begin():
        rows = session.scalars(select(inbox.InboxRow).order_by(inbox.InboxRow.id)).all()
        for seconds, row in enumerate(rows, start=1):   # latencies 1 s … 20 s
            inbox.finish(session, row, now - timedelta(minutes=1) + timedelta(seconds=seconds))
        stale = rows[0]
        stale.processed_at = "2000-01-01T00:00:00.000000Z"   # long ago: outside the window
    body = client.get("/metrics").get_data(as_text=True)
    assert "bl_inbox_processed_recent 19.0" in body
    assert 'bl_inbox_processing_latency_seconds{quantile="0.5"} 11.' in body
    assert 'bl_inbox_processing_latency_seconds{quantile="0.95"} 19.' in body
    assert "bl_inbox_depth 0.0" in body
