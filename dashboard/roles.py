"""Who may use which route: every dashboard view declares it, and a view that does not is refused.

    @bp.get("/holds")
    @allow(PRIVACY_OFFICER, AUDITOR)
    def holds_page(): ...

The guard runs before every request. An anonymous visitor is sent to sign in (a GET) or refused
(401); a signed-in user with no app role sees the page that says so and nothing else; a user
without one of the view's roles gets 403. Roles come from the session (Entra's `roles` claim, or
the local account), never from the request.

The JSON API's views declare token scopes instead (state/api_tokens.SCOPES):

    @scoped(READ)
    def list_requests(): ...

Those are answered by a bearer token alone (dashboard/api/auth.py): no session, no cookie, so no
CSRF token either; a missing, unknown, expired or revoked token gets 401, a token without one of
the view's scopes 403, both as problem details.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response, current_app, redirect, render_template, request, url_for

PRIVACY_OFFICER = "PrivacyOfficer"   # everything
AUDITOR = "Auditor"                  # read-only; personal data in clear only with a reason, recorded
ADMIN = "Admin"                      # health, settings, subscriptions; never personal data
ROLES = (PRIVACY_OFFICER, AUDITOR, ADMIN)

PUBLIC = "public"          # anyone, signed in or not (sign-in, the privacy notice, static files)
SIGNED_IN = "signed-in"    # any signed-in user, with or without a role (sign-out, the no-role page)
ACCESS = "dashboard_access"
PERSONAL_DATA = "shows_personal_data"

View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True)
class TokenScopes:
    """A view of the JSON API: callers whose bearer token holds any of `scopes` may use it."""

    scopes: frozenset[str]


@dataclass(frozen=True)
class User:
    """A signed-in person: `id` is what the ledger records (`entra:<oid>` or `local:<name>`), never a name."""

    id: str
    name: str
    roles: frozenset[str]
    auth: str                 # "entra" or "local"
    tenant_id: str | None = None

    def may(self, roles: Iterable[str]) -> bool:
        # Any iterable: templates pass lists, as Jinja has no set literals.
        return not self.roles.isdisjoint(roles)


def allow(*roles: str) -> Callable[[View], View]:
    """Let users with any of `roles` use the view."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    return _marked(frozenset(roles))


def public(view: View) -> View:
    """Let anyone use the view."""
    return _marked(PUBLIC)(view)


def signed_in(view: View) -> View:
    """Let any signed-in user use the view, with or without a role."""
    return _marked(SIGNED_IN)(view)


def shows_personal_data(view: View) -> View:
    """Mark a view that shows personal data in clear: it records a `viewed` entry (tests check it)."""
    setattr(view, PERSONAL_DATA, True)
    return view


def scoped(*scopes: str) -> Callable[[View], View]:
    """Let API callers whose bearer token holds any of `scopes` use the view."""
    from state.api_tokens import SCOPES

    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(f"unknown token scopes {sorted(unknown)}")
    return _marked(TokenScopes(frozenset(scopes)))


def access_of(view: Callable[..., Any]) -> frozenset[str] | str | TokenScopes | None:
    """What the view declared: roles, PUBLIC, SIGNED_IN, token scopes, or None (refused to everyone)."""
    return getattr(view, ACCESS, None)


def _marked(access: frozenset[str] | str | TokenScopes) -> Callable[[View], View]:
    def mark(view: View) -> View:
        setattr(view, ACCESS, access)
        return view
    return mark


def install(app: Flask) -> None:
    """Check every request against its view's declaration before the view runs."""
    app.before_request(_guard)


def _guard() -> Response | tuple[str, int] | None:
    from dashboard.sessions import CSRF_EXTENSION, current_user

    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or outside_dashboard(request.blueprint):
        return None          # a 404, or the webhooks' and health endpoints, which guard themselves
    access = PUBLIC if request.endpoint == "frame.static" else access_of(view)   # the stylesheet
    if isinstance(access, TokenScopes):
        from dashboard.api.auth import authorise

        return authorise(access.scopes)   # the bearer token alone: the session is never read
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        current_app.extensions[CSRF_EXTENSION].protect()   # 400 on a missing or forged token
    if access == PUBLIC:
        return None
    user = current_user()
    if user is None:
        if request.method in ("GET", "HEAD"):
            return redirect(url_for("signin.sign_in_page", next=request.full_path.rstrip("?")))
        return render_template("dashboard/refused.html", reason="Sign in first."), 401
    if access == SIGNED_IN:
        return None
    if not user.roles:
        return render_template("dashboard/no_role.html"), 403
    if access is None or not user.may(access):
        return render_template("dashboard/refused.html", reason="Your role does not allow this page."), 403
    return None


def outside_dashboard(blueprint: str | None) -> bool:
    """Whether a request's blueprint is none of the dashboard's (the webhooks, health, a 404)."""
    from dashboard import PAGES

    return blueprint is None or blueprint.split(".")[0] not in PAGES
