"""Identity: token endpoint, 401 without a token, 403 naming the missing permission (§1.6, §2.1)."""

from __future__ import annotations

import httpx
import pytest

from emulator import EmulatorServer
from emulator_helpers import FAST


def _token(server: EmulatorServer, tenant: str = "contoso", **form: str) -> httpx.Response:
    data = {"grant_type": "client_credentials", "client_id": "app", "client_secret": "secret",
            "scope": "https://graph.microsoft.com/.default", **form}
    return httpx.post(f"{server.base_url}/{tenant}/oauth2/v2.0/token", data=data)


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic abc"])
def test_graph_answers_401_without_a_bearer_token(server: EmulatorServer, header: str | None) -> None:
    """Missing, blank or non-bearer Authorization → 401 InvalidAuthenticationToken."""
    headers = {"Authorization": header} if header is not None else {}
    response = httpx.get(server.graph_url + "/solutions/bookingBusinesses", headers=headers)
    assert response.status_code == 401 and response.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_any_tenant_and_secret_get_a_token_by_default(server: EmulatorServer) -> None:
    """Nothing configured: the client-credentials grant always succeeds."""
    body = _token(server, "any-tenant").json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and body["access_token"].count(".") == 2


def test_strict_mode_checks_credentials_and_tokens() -> None:
    """strict_auth: wrong secret → 401 invalid_client; only issued tokens open Graph."""
    with EmulatorServer(strict_auth=True, tenant_id="contoso", client_id="app", client_secret="secret", **FAST) as server:
        assert _token(server, client_secret="wrong").status_code == 401
        assert _token(server, client_id="other").json()["error"] == "unauthorized_client"
        assert _token(server, "fabrikam").json()["error"] == "invalid_request"
        token = _token(server).json()["access_token"]
        url = server.graph_url + "/solutions/bookingBusinesses"
        assert httpx.get(url, headers={"Authorization": "Bearer forged"}).status_code == 401
        assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        server.emulator.clock.advance(3600)
        expired = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
        assert expired.status_code == 401 and "expired" in expired.json()["error"]["message"]


# (granted permissions, method, path template, expected status)
MATRIX = [
    (["Bookings.Read.All"], "GET", "/solutions/bookingBusinesses", 200),
    (["BookingsAppointment.ReadWrite.All"], "GET", "/solutions/bookingBusinesses", 403),
    (["BookingsAppointment.ReadWrite.All"], "GET", "/solutions/bookingBusinesses/{b}/appointments", 200),
    (["Calendars.Read"], "GET", "/solutions/bookingBusinesses/{b}/appointments", 403),
    (["BookingsAppointment.ReadWrite.All"], "POST", "/solutions/bookingBusinesses/{b}/appointments/{a}/cancel", 403),
    (["Bookings.ReadWrite.All"], "POST", "/solutions/bookingBusinesses/{b}/appointments/{a}/cancel", 204),
    (["BookingsAppointment.ReadWrite.All"], "DELETE", "/solutions/bookingBusinesses/{b}/customers/{c}", 204),
    (["BookingsAppointment.ReadWrite.All"], "GET", "/users/{b}/events", 403),
    (["Calendars.Read"], "GET", "/users/{b}/events", 200),
]


@pytest.mark.parametrize(("granted", "method", "path", "status"), MATRIX)
def test_permissions_matrix(client: httpx.Client, control: httpx.Client, business: str, granted: list[str], method: str,
                            path: str, status: int) -> None:
    """Each route needs one of its documented application permissions; 403 names what is missing."""
    appointment = client.get(f"/solutions/bookingBusinesses/{business}/appointments", params={"$top": 1}).json()["value"][0]
    customer = client.get(f"/solutions/bookingBusinesses/{business}/customers").json()["value"][0]
    control.post("/options", json={"granted_permissions": granted})
    response = client.request(method, path.format(b=business, a=appointment["id"], c=customer["id"]), json={} if method == "POST" else None)
    assert response.status_code == status
    if status == 403:
        error = response.json()["error"]
        assert error["code"] == "ErrorAccessDenied" and "Missing application permission" in error["message"]


def test_event_subscriptions_need_calendars_read(client: httpx.Client, control: httpx.Client, business: str) -> None:
    """Subscribing to mailbox events requires Calendars.Read (outlook-change-notifications-overview)."""
    control.post("/options", json={"granted_permissions": ["BookingsAppointment.ReadWrite.All"]})
    response = client.post("/subscriptions", json={"changeType": "created", "notificationUrl": "https://example.org/x",
                                                   "resource": f"users/{business}/events", "expirationDateTime": "2099-01-01T00:00:00Z"})
    assert response.status_code == 403 and "Calendars.Read" in response.json()["error"]["message"]
