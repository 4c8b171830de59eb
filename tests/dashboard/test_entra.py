"""Entra sign-in end to end through msal's real code path, the tenant's endpoints played by `responses`.

The test is the browser: it opens /sign-in/entra, reads the authorize URL msal built (state, nonce,
PKCE challenge), has the fake tenant issue a code for the claims the case chooses, and brings the
code back to /auth/redirect. msal then fetches the tenant's OpenID configuration and redeems the
code at the token endpoint, which answers with an ID token carrying those claims.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from flask import Flask
from flask.testing import FlaskClient

from bookings_ledger.app import close_app
from dashboard.roles import ADMIN, AUDITOR, PRIVACY_OFFICER, allow
from dashboard.sessions import COOKIE
from tests.dashboard.conftest import NOW, TENANT, started_app

CLIENT_ID = "5b0d6a3e-1c2f-4e8a-9b7d-3f6e2a1c0d4b"
CLIENT_SECRET = "dashboard-client-secret"
PUBLIC_BASE_URL = "https://ledger.contoso.com"
AUTHORITY = f"https://login.microsoftonline.com/{TENANT}"
ISSUER = f"{AUTHORITY}/v2.0"
TOKEN_ENDPOINT = f"{AUTHORITY}/oauth2/v2.0/token"
DISCOVERY = f"{ISSUER}/.well-known/openid-configuration"
CONFIGURATION = {"issuer": ISSUER, "authorization_endpoint": f"{AUTHORITY}/oauth2/v2.0/authorize",
                 "token_endpoint": TOKEN_ENDPOINT, "jwks_uri": f"{AUTHORITY}/discovery/v2.0/keys"}
OID = "0c4f9d2e-7a1b-4c3d-8e5f-6a7b8c9d0e1f"
NAME, EMAIL = "Pat Example", "pat.example@contoso.com"

# The pages of the layout with the roles the contract gives them. Where a part has not landed its
# page in this branch yet, a stand-in with the same endpoint and roles takes its place, so the
# real role guard decides what a signed-in user reaches (the layout links to all of them).
LAYOUT_PAGES = {
    "overview.overview_page": ("/", (PRIVACY_OFFICER, AUDITOR, ADMIN)),
    "subjects.search_page": ("/subjects", (PRIVACY_OFFICER, AUDITOR)),
    "records.records_page": ("/records", (PRIVACY_OFFICER, AUDITOR)),
    "holds.holds_page": ("/holds", (PRIVACY_OFFICER, AUDITOR)),
    "retention.retention_page": ("/retention", (PRIVACY_OFFICER, AUDITOR)),
    "processing_record.record_page": ("/processing-record", (PRIVACY_OFFICER, AUDITOR)),
    "notices.notices_page": ("/notices", (PRIVACY_OFFICER, AUDITOR)),
    "audit.audit_page": ("/audit", (PRIVACY_OFFICER, AUDITOR)),
    "integrity.integrity_page": ("/integrity", (PRIVACY_OFFICER, AUDITOR)),
    "admin.admin_page": ("/admin", (ADMIN, PRIVACY_OFFICER)),
}


def jwt_of(claims: dict[str, Any]) -> str:
    """An unsigned-in-effect JWT: msal does not check the signature (it trusts TLS to the token endpoint)."""
    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()
    header = {"typ": "JWT", "alg": "RS256", "kid": "test-key"}
    return ".".join((part(json.dumps(header).encode()), part(json.dumps(claims).encode()), part(b"not checked")))


def id_token_claims(**changes: Any) -> dict[str, Any]:
    """The claims Entra puts in a v2.0 ID token for an officer of the tenant; None drops a claim."""
    issued = int((NOW - timedelta(seconds=30)).timestamp())
    claims = {"ver": "2.0", "iss": ISSUER, "aud": CLIENT_ID, "tid": TENANT, "oid": OID, "sub": "pairwise-subject",
              "name": NAME, "preferred_username": EMAIL, "iat": issued, "nbf": issued, "exp": issued + 3600,
              "roles": [PRIVACY_OFFICER]}
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


class FakeTenant:
    """The tenant's discovery document and token endpoint over `responses`; `authorize` plays the
    user signing in at Entra and returns the query Entra redirects back with."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.issued: dict[str, tuple[dict[str, str], dict[str, Any]]] = {}
        self.token_requests: list[dict[str, str]] = []
        self.mock = mock
        self.discovery = mock.get(DISCOVERY, json=CONFIGURATION)
        mock.add_callback(responses.POST, TOKEN_ENDPOINT, callback=self._token)

    def authorize(self, auth_uri: str, claims: dict[str, Any]) -> dict[str, str]:
        parts = urlsplit(auth_uri)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{AUTHORITY}/oauth2/v2.0/authorize"
        request = dict(parse_qsl(parts.query))
        code = secrets.token_urlsafe(24)
        self.issued[code] = (request, claims)
        return {"code": code, "state": request["state"], "session_state": "entra-session"}

    def _token(self, request: Any) -> tuple[int, dict[str, str], str]:
        form = dict(parse_qsl(request.body))
        self.token_requests.append(form)
        authorized, claims = self.issued[form["code"]]
        if s256(form.get("code_verifier", "")) != authorized["code_challenge"]:
            return 400, {}, json.dumps({"error": "invalid_grant", "error_description": "AADSTS501481: verifier"})
        # Entra echoes the nonce parameter of the authorize request (msal sent its SHA-256).
        id_token = jwt_of({"nonce": authorized["nonce"], **claims})
        return 200, {}, json.dumps({"token_type": "Bearer", "scope": "openid profile", "expires_in": 3600,
                                    "access_token": "opaque", "id_token": id_token})


@pytest.fixture
def tenant() -> Iterator[FakeTenant]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeTenant(mock)


@pytest.fixture
def entra_settings(dashboard_settings: dict[str, str]) -> dict[str, str]:
    return {**dashboard_settings, "AUTH_MODE": "entra", "DASHBOARD_CLIENT_ID": CLIENT_ID,
            "DASHBOARD_CLIENT_SECRET": CLIENT_SECRET, "PUBLIC_BASE_URL": PUBLIC_BASE_URL}


@pytest.fixture
def entra_app(entra_settings: dict[str, str], tenant: FakeTenant) -> Iterator[Flask]:
    yield from app_with(entra_settings)


def app_with(settings: dict[str, str]) -> Iterator[Flask]:
    app = started_app(settings)
    add_stand_ins(app)
    yield app
    close_app(app)


def add_stand_ins(app: Flask) -> None:
    for endpoint, (path, roles) in LAYOUT_PAGES.items():
        if endpoint not in app.view_functions:
            app.add_url_rule(path, endpoint=endpoint, view_func=allow(*roles)(lambda: "stand-in page"))


def sign_in(client: FlaskClient, tenant: FakeTenant, claims: dict[str, Any], next_path: str | None = None) -> Any:
    """Go through the sign-in as a browser does; the answer of /auth/redirect."""
    started = client.get("/sign-in/entra", query_string={"next": next_path} if next_path else None)
    assert started.status_code == 302
    return client.get("/auth/redirect", query_string=tenant.authorize(started.location, claims))


def is_signed_in(client: FlaskClient) -> bool:
    """The overview answers a signed-in user (200 or the no-role 403); an anonymous one goes to sign in."""
    return client.get("/").status_code != 302


@pytest.mark.parametrize(("role", "reachable", "refused"), [
    (PRIVACY_OFFICER, ["/", "/subjects", "/holds", "/admin"], []),
    (AUDITOR, ["/", "/subjects", "/audit"], ["/admin"]),
    (ADMIN, ["/", "/admin"], ["/subjects", "/holds", "/audit"]),
])
def test_each_role_signs_in_and_reaches_its_pages_only(entra_app, tenant, role, reachable, refused):
    """The `roles` claim decides the pages: each app role reaches its own and is refused the others."""
    client = entra_app.test_client()
    answer = sign_in(client, tenant, id_token_claims(roles=[role, "SomethingElse"]))
    assert answer.status_code == 302 and answer.location == "/"
    assert {path: client.get(path).status_code for path in reachable} == {path: 200 for path in reachable}
    assert {path: client.get(path).status_code for path in refused} == {path: 403 for path in refused}


def test_an_anonymous_visitor_goes_through_microsoft_and_lands_on_the_page_asked_for(entra_app, tenant):
    """From a page to the sign-in page, its "Sign in with Microsoft" link, Entra, and back to the page."""
    client = entra_app.test_client()
    to_sign_in = client.get("/holds")
    assert to_sign_in.status_code == 302
    page = client.get(to_sign_in.location)
    [link] = re.findall(r'href="(/sign-in/entra[^"]*)"', page.get_data(as_text=True))
    started = client.get(html.unescape(link))
    answer = client.get("/auth/redirect", query_string=tenant.authorize(started.location, id_token_claims()))
    assert answer.location == "/holds" and client.get("/holds").status_code == 200


def test_user_without_a_role_is_signed_in_and_sees_the_no_role_page(entra_app, tenant):
    client = entra_app.test_client()
    assert sign_in(client, tenant, id_token_claims(roles=None)).status_code == 302
    page = client.get("/")
    assert page.status_code == 403 and b"You have no role in bookings-ledger" in page.data


@pytest.mark.parametrize("claims", [
    pytest.param(id_token_claims(tid="72f988bf-86f1-41af-91ab-2d7cd011db47"), id="wrong tenant"),
    pytest.param(id_token_claims(iss="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"),
                 id="issuer of another tenant"),
    pytest.param(id_token_claims(aud="00000003-0000-0000-c000-000000000000"), id="wrong audience"),
    pytest.param(id_token_claims(exp=int((NOW - timedelta(minutes=5)).timestamp())), id="expired"),
    pytest.param(id_token_claims(iat=int((NOW + timedelta(minutes=5)).timestamp())), id="issued in the future"),
    pytest.param(id_token_claims(nbf=int((NOW + timedelta(minutes=5)).timestamp())), id="not yet valid"),
    pytest.param(id_token_claims(oid=None), id="no object id"),
    pytest.param(id_token_claims(nonce="not-the-nonce-we-sent"), id="foreign nonce"),
])
def test_an_id_token_we_do_not_accept_signs_nobody_in(entra_app, tenant, claims, caplog):
    """A token msal hands back is still refused when it is not our tenant's, for us, and current."""
    client = entra_app.test_client()
    answer = sign_in(client, tenant, claims)
    assert answer.status_code == 401 and b"did not complete" in answer.data
    assert not is_signed_in(client)
    assert NAME not in caplog.text and EMAIL not in caplog.text


def test_a_token_within_the_clock_skew_is_accepted(entra_app, tenant):
    """Entra's clock may run a little ahead: a token issued 30 seconds "in the future" still signs in."""
    ahead = int((NOW + timedelta(seconds=30)).timestamp())
    assert sign_in(entra_app.test_client(), tenant, id_token_claims(iat=ahead, nbf=ahead)).status_code == 302


def test_a_replayed_redirect_is_refused_and_never_reaches_the_token_endpoint(entra_app, tenant):
    client = entra_app.test_client()
    started = client.get("/sign-in/entra")
    redirect_query = tenant.authorize(started.location, id_token_claims())
    assert client.get("/auth/redirect", query_string=redirect_query).status_code == 302
    assert client.get("/auth/redirect", query_string=redirect_query).status_code == 401
    assert len(tenant.token_requests) == 1


def test_a_redirect_replayed_with_the_cookie_from_before_the_sign_in_is_refused(entra_app, tenant):
    """Whoever copied the browser's cookie before the redirect holds a session that sign-in ended."""
    client = entra_app.test_client()
    started = client.get("/sign-in/entra")
    before = client.get_cookie(COOKIE).value
    redirect_query = tenant.authorize(started.location, id_token_claims())
    assert client.get("/auth/redirect", query_string=redirect_query).status_code == 302
    copy = entra_app.test_client()
    copy.set_cookie(COOKIE, before)
    assert copy.get("/auth/redirect", query_string=redirect_query).status_code == 401
    assert not is_signed_in(copy) and len(tenant.token_requests) == 1


def test_the_browser_holds_the_session_token_and_not_the_flow(entra_app, tenant):
    """The PKCE verifier and the nonce stay on the server: the cookie is the session's token alone."""
    client = entra_app.test_client()
    client.get("/sign-in/entra")
    with client.session_transaction() as session:
        flow = session["entra_sign_in"]["flow"]
    cookie = client.get_cookie(COOKIE).value
    assert flow["code_verifier"] not in cookie and flow["nonce"] not in cookie and len(cookie) < 64


def test_a_foreign_state_is_refused_and_spends_the_pending_flow(entra_app, tenant):
    """A state this session did not start is refused before any code is redeemed; the flow it
    would have matched is gone too, so a forged redirect cannot be followed by a guessed one."""
    client = entra_app.test_client()
    started = client.get("/sign-in/entra")
    genuine = tenant.authorize(started.location, id_token_claims())
    assert client.get("/auth/redirect", query_string={**genuine, "state": "attacker-chosen"}).status_code == 401
    assert client.get("/auth/redirect", query_string=genuine).status_code == 401
    assert tenant.token_requests == [] and not is_signed_in(client)


def test_the_flow_is_not_usable_from_another_session(entra_app, tenant):
    """A code and state lured from one browser into another sign nobody in there; the owner still can."""
    victim, attacker = entra_app.test_client(), entra_app.test_client()
    started = victim.get("/sign-in/entra")
    redirect_query = tenant.authorize(started.location, id_token_claims())
    assert attacker.get("/auth/redirect", query_string=redirect_query).status_code == 401
    assert not is_signed_in(attacker) and tenant.token_requests == []
    assert victim.get("/auth/redirect", query_string=redirect_query).status_code == 302
    assert is_signed_in(victim)


def test_the_token_request_carries_pkce_the_client_and_the_redirect_uri(entra_app, tenant):
    client = entra_app.test_client()
    started = client.get("/sign-in/entra")
    authorize = dict(parse_qsl(urlsplit(started.location).query))
    assert authorize["client_id"] == CLIENT_ID and authorize["response_type"] == "code"
    assert authorize["redirect_uri"] == f"{PUBLIC_BASE_URL}/auth/redirect"
    assert authorize["code_challenge_method"] == "S256" and authorize["nonce"]
    assert set(authorize["scope"].split()) == {"openid", "profile"}      # no offline_access: no refresh token
    client.get("/auth/redirect", query_string=tenant.authorize(started.location, id_token_claims()))
    [sent] = tenant.token_requests
    assert sent["grant_type"] == "authorization_code" and sent["client_id"] == CLIENT_ID
    assert sent["client_secret"] == CLIENT_SECRET
    assert sent["redirect_uri"] == f"{PUBLIC_BASE_URL}/auth/redirect"
    assert s256(sent["code_verifier"]) == authorize["code_challenge"]


def test_the_msal_application_is_built_once_per_process(entra_app, tenant):
    """msal reads the tenant's OpenID configuration when it is built; two sign-ins read it once."""
    for _ in range(2):
        assert sign_in(entra_app.test_client(), tenant, id_token_claims()).status_code == 302
    assert tenant.discovery.call_count == 1


@pytest.mark.parametrize(("next_path", "landing"), [
    ("/holds?scope=subject", "/holds?scope=subject"),
    ("https://evil.example/phish", "/"),
    ("//evil.example/phish", "/"),
    ("/\\evil.example/phish", "/"),
    ("/holds\r\nSet-Cookie: x=1", "/"),
])
def test_the_sign_in_returns_to_a_page_of_this_site_only(entra_app, tenant, next_path, landing):
    assert sign_in(entra_app.test_client(), tenant, id_token_claims(), next_path).location == landing


def test_an_unassigned_account_is_told_so_and_its_name_is_not_logged(entra_app, tenant, caplog):
    """Entra refuses an unassigned user with AADSTS50105 (assignment required); the page says so."""
    client = entra_app.test_client()
    started = client.get("/sign-in/entra")
    state = dict(parse_qsl(urlsplit(started.location).query))["state"]
    with caplog.at_level(logging.INFO):
        answer = client.get("/auth/redirect", query_string={
            "error": "access_denied", "state": state,
            "error_description": f"AADSTS50105: The signed in user '{EMAIL}' is not assigned to a role for the application."})
    assert answer.status_code == 403 and b"not assigned to this app" in answer.data
    assert "AADSTS50105" in caplog.text and EMAIL not in caplog.text and tenant.token_requests == []


def test_another_entra_error_is_a_plain_refusal(entra_app, tenant):
    client = entra_app.test_client()
    state = dict(parse_qsl(urlsplit(client.get("/sign-in/entra").location).query))["state"]
    answer = client.get("/auth/redirect", query_string={
        "error": "server_error", "error_description": "AADSTS90033: A transient error has occurred.", "state": state})
    assert answer.status_code == 401 and not is_signed_in(client)


def test_an_unreachable_tenant_answers_503_and_a_later_sign_in_works(entra_app, tenant):
    """A failed discovery is not kept: once the tenant answers again, sign-in works in the same process."""
    tenant.mock.replace(responses.GET, DISCOVERY, status=503)
    assert entra_app.test_client().get("/sign-in/entra").status_code == 503
    tenant.mock.replace(responses.GET, DISCOVERY, json=CONFIGURATION)
    assert sign_in(entra_app.test_client(), tenant, id_token_claims()).status_code == 302


def test_the_log_names_the_user_by_id_only(entra_app, tenant, caplog):
    with caplog.at_level(logging.INFO):
        sign_in(entra_app.test_client(), tenant, id_token_claims())
    assert f"entra:{OID}" in caplog.text
    assert NAME not in caplog.text and EMAIL not in caplog.text


@pytest.mark.parametrize("path", ["/sign-in/entra", "/auth/redirect?code=guess&state=guess"])
def test_sign_in_attempts_are_rate_limited_per_route(entra_settings, tenant, path):
    for app in app_with({**entra_settings, "SIGN_IN_RATE_LIMIT": "3 per minute"}):
        client = app.test_client()
        assert [client.get(path).status_code for _ in range(4)][-1] == 429


def test_local_mode_has_no_entra_sign_in(dashboard_app):
    assert dashboard_app.test_client().get("/sign-in/entra").status_code == 404


@pytest.fixture
def certificate_file(tmp_path: Path) -> Path:
    """A PEM file of a private key and its self-signed certificate, as azure-identity reads it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bookings-ledger")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=365))
                   .sign(key, hashes.SHA256()))
    path = tmp_path / "graph.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()) + certificate.public_bytes(serialization.Encoding.PEM))
    return path


def test_the_graph_registration_signs_in_with_its_certificate(entra_settings, tenant, certificate_file):
    """Without a dashboard registration of its own, the Graph one's certificate makes the client assertion."""
    settings = {key: value for key, value in entra_settings.items() if not key.startswith("DASHBOARD_CLIENT")}
    for app in app_with({**settings, "GRAPH_CLIENT_ID": CLIENT_ID, "GRAPH_CLIENT_CERTIFICATE": str(certificate_file)}):
        assert sign_in(app.test_client(), tenant, id_token_claims()).status_code == 302
    [sent] = tenant.token_requests
    assert "client_secret" not in sent
    assert sent["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    header = json.loads(base64.urlsafe_b64decode(sent["client_assertion"].split(".")[0] + "=="))
    assert header["alg"] == "PS256" and "x5t#S256" in header
