"""The handshake echoes at most 1 KiB, and every response is marked so no browser renders it."""
import pytest

from webhook_items import metric, notification, post

TOKEN_LIMIT = 1024


@pytest.mark.parametrize("path", ["/webhooks/graph", "/webhooks/graph/lifecycle"])
def test_a_token_of_exactly_one_kib_is_echoed(client, path):
    token = "v" * TOKEN_LIMIT
    response = client.post(path, query_string={"validationToken": token}, data=b"")
    assert (response.status_code, response.get_data(as_text=True)) == (200, token)


@pytest.mark.parametrize("token", ["v" * (TOKEN_LIMIT + 1), "é" * 513], ids=["1025-ascii", "1026-bytes-utf8"])
def test_a_longer_token_is_refused_and_nothing_of_it_echoed(client, token):
    response = client.post("/webhooks/graph", query_string={"validationToken": token}, data=b"")
    assert response.status_code == 400
    assert token[:16] not in response.get_data(as_text=True)
    assert metric(client, 'bl_notifications_rejected_total{reason="validation_token_too_long"}') == 1.0


def _responses(client, subscription):
    """One response of every kind the app gives."""
    return {
        "handshake": client.post("/webhooks/graph?validationToken=%3Cscript%3Ealert(1)%3C/script%3E", data=b""),
        "accepted": post(client, notification(subscription)),
        "malformed": client.post("/webhooks/graph", data=b"{", content_type="application/json"),
        "media-type": client.post("/webhooks/graph", data=b"{}", content_type="text/html"),
        "too-large": client.post("/webhooks/graph", data=b"x" * (1024 * 1024 + 1), content_type="application/json"),
        "token-too-long": client.post("/webhooks/graph", query_string={"validationToken": "v" * 2000}, data=b""),
        "not-found": client.get("/nothing-here"),
        "method": client.get("/webhooks/graph"),
        "healthz": client.get("/healthz"),
        "readyz": client.get("/readyz"),
        "metrics": client.get("/metrics"),
    }


def test_every_response_carries_nosniff_and_a_csp_that_allows_nothing(client, subscription):
    for name, response in _responses(client, subscription).items():
        assert response.headers.get("X-Content-Type-Options") == "nosniff", name
        assert response.mimetype != "text/html", name
        assert response.headers.get("Content-Security-Policy") == "default-src 'none'", name
