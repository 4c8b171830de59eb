"""Identity: the client-credentials token endpoint, bearer-token checks and app permissions.

By default any non-empty bearer token is accepted, so a new user can point msgraph-sdk at the
emulator with a static fake credential. With ``strict_auth`` only tokens this emulator issued
(and not yet expired on its clock) pass, and the token endpoint checks tenant, client id and
secret when those options are set. Permissions are the ``granted_permissions`` option; each
route names the application permissions that allow it (graph-facts §1.6, §2.1).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Blueprint, Response, request

from .errors import GraphError
from .responses import emulator

bp = Blueprint("identity", __name__)

# Least-privileged application permission first, then the higher ones Graph also accepts.
LIST_BUSINESSES = ("Bookings.Read.All", "Bookings.ReadWrite.All", "Bookings.Manage.All")
READ_BOOKINGS = ("BookingsAppointment.ReadWrite.All", "Bookings.Read.All", "Bookings.ReadWrite.All", "Bookings.Manage.All")
WRITE_APPOINTMENTS = READ_BOOKINGS  # create/update/delete appointment and customer, as the docs print it
CANCEL_APPOINTMENT = ("Bookings.ReadWrite.All", "Bookings.Manage.All")
WRITE_SETUP = ("Bookings.ReadWrite.All", "Bookings.Manage.All")
MANAGE_BUSINESS = ("Bookings.Manage.All",)
READ_CALENDARS = ("Calendars.Read", "Calendars.ReadWrite")
# event-delete needs application Calendars.ReadWrite, more than the subscription's Calendars.Read;
# the stored permanentDelete page names none (UNCONFIRMED), so it is taken to need the same.
WRITE_CALENDARS = ("Calendars.ReadWrite",)
# Mail (privacy-facts §1.1, §1.4–1.5): Mail.ReadBasic reads messages without their bodies.
READ_MAIL = ("Mail.ReadBasic", "Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite")
READ_MAIL_BODIES = ("Mail.Read", "Mail.ReadWrite")
WRITE_MAIL = ("Mail.ReadWrite",)  # user-post-messages, message-update, message-delete
SEND_MAIL = ("Mail.Send",)
READ_USERS = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All")

Requirement = Callable[[dict], tuple[str, ...]]


def requires(permissions: tuple[str, ...], *, by_kind: dict[str, tuple[str, ...]] | None = None) -> Callable:
    """Mark a view with the permissions (any one suffices); ``by_kind`` varies them by the ``kind`` URL part."""
    def decorate(view: Callable) -> Callable:
        view.required_permissions = lambda args: (by_kind or {}).get(args.get("kind", ""), permissions)
        return view
    return decorate


class Identity:
    """Issued tokens and the checks Graph applies before a request reaches a resource."""

    def __init__(self) -> None:
        self._tokens: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def issue(self, tenant: str, client_id: str, roles: list[str], now: datetime, lifetime: int) -> str:
        """Make an access token (a JWT-shaped, unsigned token) and remember its expiry."""
        claims = {"aud": "https://graph.microsoft.com", "iss": f"https://sts.windows.net/{tenant}/", "tid": tenant,
                  "appid": client_id, "exp": int((now + timedelta(seconds=lifetime)).timestamp()), "roles": roles}
        token = ".".join(_b64(part) for part in ({"typ": "JWT", "alg": "none"}, claims)) + ".emulator"
        with self._lock:
            self._tokens[token] = now + timedelta(seconds=lifetime)
        return token

    def authenticate(self, header: str | None, now: datetime, strict: bool) -> None:
        """401 unless the Authorization header carries an acceptable bearer token."""
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        if not strict:
            return
        with self._lock:
            expiry = self._tokens.get(token.strip())
        if expiry is None:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
        if expiry <= now:
            raise GraphError(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")

    @staticmethod
    def authorize(needed: tuple[str, ...], granted: list[str]) -> None:
        """403 naming the missing permission unless one of ``needed`` is granted."""
        if needed and not set(needed) & set(granted):
            raise GraphError(403, "ErrorAccessDenied",
                             f"Access is denied. Check credentials and try again. Missing application permission: "
                             f"one of {', '.join(needed)}.")


@bp.post("/<tenant>/oauth2/v2.0/token")
def token(tenant: str) -> Response:
    """Client-credentials grant, answered in Entra ID's shape (errors as AADSTS codes)."""
    core = emulator()
    options = core.options
    form = request.form
    if form.get("grant_type") != "client_credentials":
        return _aad_error(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
    if options.tenant_id and tenant not in (options.tenant_id, "organizations"):
        return _aad_error(400, "invalid_request", f"AADSTS90002: Tenant '{tenant}' not found.")
    if options.client_id and form.get("client_id") != options.client_id:
        return _aad_error(400, "unauthorized_client",
                          f"AADSTS700016: Application with identifier '{form.get('client_id')}' was not found in the directory.")
    if options.client_secret and form.get("client_secret") != options.client_secret:
        return _aad_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
    access_token = core.identity.issue(tenant, form.get("client_id", ""), list(options.granted_permissions),
                                       core.clock.now(), options.token_lifetime_s)
    return Response(json.dumps({"token_type": "Bearer", "expires_in": options.token_lifetime_s,
                                "ext_expires_in": options.token_lifetime_s, "access_token": access_token}),
                    content_type="application/json; charset=utf-8")


def check_mailbox_scope(mailbox: str, path: str, outside: list[str]) -> None:
    """403 "Access to OData is disabled." for a request on the contents of a mailbox outside the
    app's scope: Exchange RBAC for Applications, an application access policy, or an org-wide
    block of REST access (privacy-facts §1.12). The directory object (``/users/{id}``) is not
    mailbox content and stays readable."""
    content = path.rstrip("/").count("/") > 3  # /v1.0/users/{id}/<something>
    if content and mailbox.lower() in {name.lower() for name in outside}:
        raise GraphError(403, "ErrorAccessDenied", "Access to OData is disabled.")


def _aad_error(status: int, error: str, description: str) -> Response:
    code = int(description[len("AADSTS"):description.index(":")])
    return Response(json.dumps({"error": error, "error_description": description, "error_codes": [code]}),
                    status=status, content_type="application/json; charset=utf-8")


def _b64(part: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
