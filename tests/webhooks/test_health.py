"""Health, readiness and metrics endpoints."""
from bookings_ledger.app import create_app


def test_healthz_answers_without_checking_anything(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_is_ready_on_a_migrated_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["database"] == "ok"


def test_readyz_names_the_command_on_an_unmigrated_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    app = create_app({"DATABASE_URL": url, "LEDGER_MASTER_KEY": "A" * 43 + "="})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "bookings-ledger db upgrade" in response.get_json()["checks"]["database"]
    app.extensions["bookings_ledger.engine"].dispose()


def test_metrics_export_inbox_depth(client, subscription):
    body = client.get("/metrics").get_data(as_text=True)
    assert "bl_inbox_depth 0.0" in body
    assert 'bl_notifications_rejected_total{reason="malformed"} 0.0' in body
