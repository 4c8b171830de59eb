"""Signing in and out: the sign-in page, local accounts (AUTH_MODE=local only) and sign-out.

In `entra` mode the page links to Microsoft's sign-in (dashboard/entra.py) and POST /sign-in
does not exist (404). In `local` mode, the demo's, three accounts share LOCAL_PASSWORD:

    officer  PrivacyOfficer        auditor  Auditor        admin  Admin

A wrong name and a wrong password get the same answer, in the same time: the password is
compared (in constant time) whether or not the name exists. `next` is followed only when it is
a path on this site, so a link cannot send someone from our sign-in page to another site.
"""
from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response

from dashboard.context import context
from dashboard.roles import ADMIN, AUDITOR, PRIVACY_OFFICER, User, public, signed_in
from dashboard.security import sign_in_limit
from dashboard.sessions import current_user, sign_in as start_session, sign_out as end_session

bp = Blueprint("signin", __name__)

LOCAL_ACCOUNTS = {"officer": PRIVACY_OFFICER, "auditor": AUDITOR, "admin": ADMIN}
LANDING = "/"   # the overview, which sends a user with no role to the page that says so


@bp.record_once
def _require_local_password(state: BlueprintSetupState) -> None:
    # Local mode without a password would be a sign-in page nobody can pass: refuse to start.
    settings = state.app.config["SETTINGS"]
    if settings.AUTH_MODE == "local":
        settings.require("LOCAL_PASSWORD")


@bp.get("/sign-in")
@public
def sign_in_page() -> Response | str:
    """The sign-in form (local mode) or the link to Microsoft's sign-in (entra mode)."""
    target = same_site_path(request.args.get("next"))
    if current_user() is not None:
        return redirect(target)
    return render_template("signin/sign_in.html", local=_local_mode(), next=target)


@bp.post("/sign-in")
@public
@sign_in_limit
def sign_in() -> Response | tuple[str, int]:
    """Sign a local account in, under a new session, and go on to `next`."""
    if not _local_mode():
        abort(404)
    name = request.form.get("username", "")
    target = same_site_path(request.form.get("next"))
    if not _password_matches(request.form.get("password", "")) or name not in LOCAL_ACCOUNTS:
        return render_template("signin/sign_in.html", local=True, next=target,
                               error="Wrong user name or password."), 401
    start_session(User(f"local:{name}", name, frozenset({LOCAL_ACCOUNTS[name]}), "local"))
    return redirect(target)


@bp.post("/sign-out")
@signed_in
def sign_out() -> Response:
    """End the session and go back to the sign-in page."""
    end_session()
    return redirect(url_for("signin.sign_in_page"))


def same_site_path(candidate: str | None) -> str:
    """`candidate` when it is a path on this site (`/records?state=held`), else the landing page."""
    if not candidate or not candidate.startswith("/") or candidate.startswith("//") or "\\" in candidate:
        return LANDING
    if any(ord(char) < 0x20 or ord(char) == 0x7f for char in candidate):
        return LANDING   # browsers drop tabs and newlines, which would turn "/\t/evil" into "//evil"
    parts = urlsplit(candidate)
    return candidate if not parts.scheme and not parts.netloc else LANDING


def _local_mode() -> bool:
    return context().settings.AUTH_MODE == "local"


def _password_matches(given: str) -> bool:
    expected = context().settings.require("LOCAL_PASSWORD").get_secret_value()
    return hmac.compare_digest(given.encode(), expected.encode())
