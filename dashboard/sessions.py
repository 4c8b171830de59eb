"""The signed-in user of a request.

FRAME (to be replaced by the auth part): Flask's signed cookie session holds the user. The auth
part keeps these three functions and `install`, and moves the session server-side.
"""
from __future__ import annotations

from flask import Flask, session

from dashboard.context import DashboardContext
from dashboard.roles import User

CSRF_EXTENSION = "bookings_ledger.csrf"


def install(app: Flask, context: DashboardContext) -> None:
    from flask_wtf.csrf import CSRFProtect

    app.secret_key = context.settings.require("SECRET_KEY").get_secret_value()
    # Checked by the role guard on the dashboard's own routes only: the webhooks take Graph's POSTs.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.extensions[CSRF_EXTENSION] = CSRFProtect(app)


def sign_in(user: User) -> None:
    session.clear()
    session["user"] = {"id": user.id, "name": user.name, "roles": sorted(user.roles), "auth": user.auth,
                       "tenant_id": user.tenant_id}


def sign_out() -> None:
    session.clear()


def current_user() -> User | None:
    stored = session.get("user")
    if stored is None:
        return None
    return User(stored["id"], stored["name"], frozenset(stored["roles"]), stored["auth"], stored.get("tenant_id"))
