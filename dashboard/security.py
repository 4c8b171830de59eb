"""What every dashboard response carries, and how often anyone may try to sign in.

Headers (bookings_ledger/listeners.py adds `nosniff` everywhere and `default-src 'none'` on
everything that is not HTML):
    every text/html response   Content-Security-Policy PAGE_POLICY: the stylesheet and images of
                               this origin, forms posting here, nothing else; no script, no inline
                               style, never framed
    every dashboard response   Cache-Control: no-store (pages show personal data), Referrer-Policy:
                               no-referrer (subject refs stay out of other sites' logs),
                               X-Frame-Options: DENY (frame-ancestors for older browsers)

Sign-in views carry `@sign_in_limit`: SIGN_IN_RATE_LIMIT per client address and per route. The
public privacy page's forms carry `@portal_limit`: PORTAL_RATE_LIMIT per client address, one count
shared by all of them (a submission, a code, a link all cost one). Both are counted in this
process's memory (so N processes allow N times the rate). The address is the
connection's, or with TRUSTED_PROXY_HOPS=n the one the n-th proxy from here saw (ProxyFix), so a
client cannot pick its own by sending X-Forwarded-For.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, render_template, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_wtf.csrf import CSRFError
from limits import parse_many
from werkzeug.middleware.proxy_fix import ProxyFix

from config import SettingsError
from dashboard.context import DashboardContext
from dashboard.roles import outside_dashboard

PAGE_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
               "frame-ancestors 'none'; base-uri 'none'")
DASHBOARD_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
SIGN_IN_LIMITED = "dashboard_sign_in_limited"
PORTAL_LIMITED = "dashboard_portal_limited"
LIMITER = "bookings_ledger.limiter"

View = TypeVar("View", bound=Callable[..., Any])


def sign_in_limit(view: View) -> View:
    """Limit the view to SIGN_IN_RATE_LIMIT requests per client address (sign-in and its callbacks)."""
    setattr(view, SIGN_IN_LIMITED, True)
    return view


def portal_limit(view: View) -> View:
    """Count the view against PORTAL_RATE_LIMIT per client address, shared by every view so marked."""
    setattr(view, PORTAL_LIMITED, True)
    return view


def install(app: Flask, context: DashboardContext) -> None:
    """The client address behind the trusted proxies, the sign-in and portal rate limits, the refusal pages
    and the headers."""
    hops = context.settings.TRUSTED_PROXY_HOPS
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=0, x_host=0, x_port=0, x_prefix=0)  # type: ignore[method-assign]
    app.extensions[LIMITER] = Limiter(
        _pseudonymous_client_key(), app=app, storage_uri="memory://", strategy="moving-window",
        default_limits=[_rate("SIGN_IN_RATE_LIMIT", context.settings.SIGN_IN_RATE_LIMIT)],
        default_limits_exempt_when=_not_marked(SIGN_IN_LIMITED),
        application_limits=[_rate("PORTAL_RATE_LIMIT", context.settings.PORTAL_RATE_LIMIT)],
        application_limits_exempt_when=_not_marked(PORTAL_LIMITED),
    )
    app.register_error_handler(RateLimitExceeded, _too_many_attempts)
    app.register_error_handler(CSRFError, _forged_form)
    app.after_request(_secure)


def _rate(setting: str, value: str) -> str:
    try:
        parse_many(value)
    except ValueError:
        raise SettingsError(f"setting {setting}: not a rate (for example 10 per minute)") from None
    return value


def _pseudonymous_client_key() -> Callable[[], str]:
    # Flask-Limiter logs the key of a breached limit, and a client address is personal data: the
    # key is a keyed hash under a secret that lives and dies with this process.
    secret = secrets.token_bytes(32)
    return lambda: hmac.new(secret, (request.remote_addr or "-").encode(), hashlib.sha256).hexdigest()


def _not_marked(mark: str) -> Callable[[], bool]:
    def exempt() -> bool:
        view = current_app.view_functions.get(request.endpoint or "")
        return not getattr(view, mark, False)
    return exempt


def _too_many_attempts(_: RateLimitExceeded) -> tuple[str, int]:
    view = current_app.view_functions.get(request.endpoint or "")
    what = "requests" if getattr(view, PORTAL_LIMITED, False) else "sign-in attempts"
    return render_template("dashboard/refused.html", reason=f"Too many {what} from your address: "
                           "wait a minute, then try again."), 429


def _forged_form(_: CSRFError) -> tuple[str, int]:
    # No detail: Flask-WTF's reason (missing, expired, wrong token) helps only whoever forges one.
    return render_template("dashboard/refused.html", reason="This form was not sent by this page, or it has "
                           "expired: go back, reload the page and send it again."), 400


def _secure(response: Response) -> Response:
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = PAGE_POLICY
    if not outside_dashboard(request.blueprint):
        response.headers.update(DASHBOARD_HEADERS)
    return response
