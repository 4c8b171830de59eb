"""Permission and authentication failures, and the real azure-identity client-secret path."""
from __future__ import annotations

import re

import httpx
import pytest
import responses

from config.settings import load_settings
from connector import AuthenticationFailed, PermissionMissing, connector_from_settings

TENANT = "11111111-2222-3333-4444-555555555555"
AUTHORITY = f"https://login.microsoftonline.com/{TENANT}"


def test_a_403_names_the_permission_to_grant(graph, control, business: str) -> None:
    control.options(granted_permissions=["Calendars.Read"])
    with pytest.raises(PermissionMissing) as raised:
        list(graph.bookings.appointments(business))
    assert "BookingsAppointment.ReadWrite.All" in raised.value.permissions
    assert "BookingsAppointment.ReadWrite.All" in str(raised.value) and raised.value.request_id


def test_cancel_needs_bookings_readwrite_all_with_app_permissions(graph, control, business: str) -> None:
    """graph-facts §1.6: BookingsAppointment.ReadWrite.All reads and deletes but cannot cancel."""
    appointment_id = next(iter(graph.bookings.appointments(business))).id
    control.options(granted_permissions=["BookingsAppointment.ReadWrite.All"])
    graph.bookings.appointment(business, appointment_id)
    with pytest.raises(PermissionMissing) as raised:
        graph.bookings.cancel_appointment(business, appointment_id, "Closed.")
    assert raised.value.permissions[0] == "Bookings.ReadWrite.All"


def test_a_token_graph_does_not_accept_is_authentication_failed(graph, control, business: str) -> None:
    control.options(strict_auth=True)
    with pytest.raises(AuthenticationFailed) as raised:
        graph.bookings.business(business)
    assert raised.value.status == 401


def test_the_real_client_secret_credential_reaches_graph_with_its_token(emulator, control, business: str, fast_policy) -> None:
    """ClientSecretCredential talks to a mocked Entra (responses patches only `requests`); the
    SDK's httpx traffic reaches the emulator, which in strict mode accepts only that token."""
    issued = httpx.post(f"{emulator.base_url}/{TENANT}/oauth2/v2.0/token",
                        data={"grant_type": "client_credentials", "client_id": "app-id", "client_secret": "s3cret"}).json()
    control.options(strict_auth=True)
    settings = load_settings({"GRAPH_BASE_URL": emulator.graph_url, "GRAPH_CREDENTIAL": "secret",
                              "GRAPH_TENANT_ID": TENANT, "GRAPH_CLIENT_ID": "app-id", "GRAPH_CLIENT_SECRET": "s3cret"})
    with responses.RequestsMock() as entra:
        entra.get(f"{AUTHORITY}/v2.0/.well-known/openid-configuration", json={
            "token_endpoint": f"{AUTHORITY}/oauth2/v2.0/token", "issuer": f"{AUTHORITY}/v2.0",
            "authorization_endpoint": f"{AUTHORITY}/oauth2/v2.0/authorize"})
        token = entra.post(f"{AUTHORITY}/oauth2/v2.0/token", json={
            "token_type": "Bearer", "expires_in": 3599, "access_token": issued["access_token"]})
        with connector_from_settings(settings, policy=fast_policy) as graph:
            assert graph.bookings.business(business).id == business
            assert graph.bookings.business(business).id == business  # the second call uses the cached token
        assert token.call_count == 1
        assert "client_secret=s3cret" in entra.calls[-1].request.body
        assert "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default" in entra.calls[-1].request.body
    assert control.count("GET", "<business_id>", 200) == 2


def test_an_entra_refusal_is_authentication_failed(emulator, business: str, fast_policy) -> None:
    settings = load_settings({"GRAPH_BASE_URL": emulator.graph_url, "GRAPH_CREDENTIAL": "secret",
                              "GRAPH_TENANT_ID": TENANT, "GRAPH_CLIENT_ID": "app-id", "GRAPH_CLIENT_SECRET": "wrong"})
    with responses.RequestsMock() as entra:
        entra.get(f"{AUTHORITY}/v2.0/.well-known/openid-configuration", json={
            "token_endpoint": f"{AUTHORITY}/oauth2/v2.0/token", "issuer": f"{AUTHORITY}/v2.0",
            "authorization_endpoint": f"{AUTHORITY}/oauth2/v2.0/authorize"})
        # After invalid_client msal looks up the authority's aliases before giving up.
        entra.get(re.compile(r"https://login\.microsoftonline\.com/common/discovery/instance\?.*"), json={
            "tenant_discovery_endpoint": f"{AUTHORITY}/v2.0/.well-known/openid-configuration",
            "metadata": [{"preferred_network": "login.microsoftonline.com", "aliases": ["login.microsoftonline.com"]}]})
        entra.post(f"{AUTHORITY}/oauth2/v2.0/token", status=401, json={
            "error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})
        with connector_from_settings(settings, policy=fast_policy) as graph, pytest.raises(AuthenticationFailed):
            graph.bookings.business(business)
