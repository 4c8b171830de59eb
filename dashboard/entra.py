"""Sign-in with Microsoft Entra ID: msal's authorization-code flow against the tenant's authority.

    GET /sign-in/entra?next=/holds  -> 302 to Entra's authorize URL (PKCE, state, nonce by msal)
    GET /auth/redirect?code&state   -> the code redeemed, the ID token checked, the user signed in

Every failure answers with one plain page and no detail (what failed is logged, with ids only):
an attacker probing the redirect learns nothing about which check stopped him.
"""
from __future__ import annotations

import logging
import re
import warnings
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request

from dashboard import entra_flow, sessions
from dashboard.context import context
from dashboard.entra_app import UNREACHABLE, EntraUnavailable, client_id, issuer, msal_app
from dashboard.entra_claims import SignInRefused, user_from_claims
from dashboard.roles import public
from dashboard.security import sign_in_limit
from dashboard.signin import same_site_path

bp = Blueprint("entra", __name__)
log = logging.getLogger(__name__)

REDIRECT_PATH = "/auth/redirect"
NOT_ASSIGNED = "AADSTS50105"      # "assignment required" is on and the user has no app role
_ENTRA_CODE = re.compile(r"AADSTS\d+")


@bp.get("/sign-in/entra")
@public
@sign_in_limit
def start() -> Response | tuple[str, int]:
    """Send the browser to Entra, the flow kept in the session to finish with."""
    settings = _entra_settings()
    try:
        flow = _initiated(msal_app(), settings.PUBLIC_BASE_URL + REDIRECT_PATH)
    except EntraUnavailable as error:
        return _unavailable(str(error))
    entra_flow.keep(flow, same_site_path(request.args.get("next")))
    return redirect(flow["auth_uri"])


@bp.get(REDIRECT_PATH)
@public
@sign_in_limit
def redirect_back() -> Response | tuple[str, int]:
    """Finish the sign-in Entra sends back: the flow of this session, once, and a token we accept."""
    settings = _entra_settings()
    pending = entra_flow.take(request.args.get("state", ""))
    if pending is None:
        return _refused("no-pending-flow")    # replayed, foreign, or from another browser
    flow, next_path = pending
    try:
        result = msal_app().acquire_token_by_auth_code_flow(flow, request.args.to_dict())
    except EntraUnavailable as error:
        return _unavailable(str(error))
    except (ValueError, RuntimeError):        # msal: state mismatch (ValueError), nonce mismatch (RuntimeError)
        return _refused("flow-mismatch")
    except UNREACHABLE as error:
        return _unavailable(f"token endpoint failed: {type(error).__name__}")
    if "error" in result:
        return _entra_error(result)
    try:
        user = user_from_claims(result.get("id_token_claims") or {}, tenant_id=settings.GRAPH_TENANT_ID,
                                client_id=client_id(settings), issuer=issuer(settings), now=context().clock())
    except SignInRefused as refusal:
        return _refused(refusal.reason, result.get("id_token_claims") or {})
    sessions.sign_in(user)
    log.info("entra sign-in: %s with roles %s", user.id, sorted(user.roles))
    return redirect(next_path)


def _initiated(application: Any, redirect_uri: str) -> dict[str, Any]:
    # The code comes back in the query of a GET, not a form_post as msal advises (RFC 9700 4.3.1),
    # and says so in a warning on every call: the session cookie is SameSite=Lax, so a browser
    # sends it on Entra's top-level redirect but not on a cross-site POST. A code in the URL is
    # single-use and worthless without this session's PKCE verifier, and /auth/redirect answers
    # with a redirect at once, so it stays in no page.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="response_mode='form_post' is recommended", category=UserWarning)
        return application.initiate_auth_code_flow(scopes=[], redirect_uri=redirect_uri, response_mode="query")


def _entra_settings() -> Any:
    settings = context().settings
    if settings.AUTH_MODE != "entra":
        abort(404)          # a local-mode demo has no app registration to sign in with
    return settings


def _refused(reason: str, claims: dict[str, Any] | None = None) -> tuple[str, int]:
    ids = {key: claims[key] for key in ("oid", "tid") if claims and isinstance(claims.get(key), str)}
    log.warning("entra sign-in refused: %s %s", reason, ids)
    return render_template("dashboard/refused.html",
                           reason="The sign-in with Microsoft did not complete. Start again from the sign-in page."), 401


def _entra_error(result: dict[str, Any]) -> tuple[str, int]:
    # Entra's error_description may name the account; only its AADSTS code is logged.
    code = next(iter(_ENTRA_CODE.findall(str(result.get("error_description", "")))), "")
    log.warning("entra sign-in refused by entra: %s %s", str(result.get("error"))[:40], code)
    if code == NOT_ASSIGNED:
        return render_template("entra/not_assigned.html"), 403
    return render_template("dashboard/refused.html",
                           reason="Microsoft did not sign you in. Start again from the sign-in page."), 401


def _unavailable(why: str) -> tuple[str, int]:
    log.error("entra sign-in unavailable: %s", why)
    return render_template("dashboard/refused.html",
                           reason="Sign-in with Microsoft is not available right now. Try again later."), 503
