"""The signed-in user of a request, in a session kept server-side (state/dashboard_sessions.py).

The cookie `__Host-bl_session` holds a random token and nothing else (Secure, HttpOnly,
SameSite=Lax, Path=/, no Domain: the `__Host-` prefix makes the browser refuse it from anywhere
but this host over a secure connection, so a sibling subdomain cannot plant one). The session's
data, the user and Flask-WTF's CSRF token, is a row keyed by the token's SHA-256. A session ends
SESSION_LIFETIME_MINUTES after sign-in whatever happens, or SESSION_IDLE_MINUTES after its last
use; both are read from the dashboard's clock. Signing in always starts a new token (no session
fixation), and signing out deletes the row.

Chromium, like the other browsers, treats http://127.0.0.1 and http://localhost as secure
contexts and keeps a `Secure`, `__Host-` cookie there, so the demo works over plain http on
loopback; on any other plain-http address the browser drops the cookie, and sign-in cannot work.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Request, Response, session
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from dashboard.context import DashboardContext
from dashboard.roles import User
from state.dashboard_sessions import create_session, delete_session, load_session, new_token, save_session

CSRF_EXTENSION = "bookings_ledger.csrf"
COOKIE = "__Host-bl_session"
# A request moves the idle deadline on only when it would move by this much: a page and its
# stylesheet and charts then cost one write, not one each.
TOUCH_GRANULARITY = timedelta(minutes=1)
_SERIALIZER = TaggedJSONSerializer()   # Flask's own: keeps the tuples of flashed messages


class ServerSession(CallbackDict[str, Any], SessionMixin):
    """The session dict of one request, with the token (None until stored) and when it goes idle."""

    def __init__(self, data: dict[str, Any] | None = None, *, token: str | None = None,
                 idle_expires_at: datetime | None = None) -> None:
        def changed(_: CallbackDict[str, Any]) -> None:
            self.modified = True

        super().__init__(data or {}, changed)
        self.token = token
        self.idle_expires_at = idle_expires_at
        self.modified = False
        self.renewed = False   # sign-in: the old token goes, a new one is issued


class DatabaseSessionInterface(SessionInterface):
    """Flask's session, stored as a row per token in the dashboard's database."""

    def __init__(self, context: DashboardContext) -> None:
        # Held here, not read from `current_app`: Flask opens sessions outside an app context too.
        self._context = context

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        token = request.cookies.get(COOKIE)
        if not token:
            return ServerSession()
        stored = load_session(self._context.engine, token, self._context.clock())
        if stored is None:
            # Unknown, forged or expired: an empty session whose token (if any) the server will
            # choose; a token the client brought is never adopted.
            return ServerSession()
        return ServerSession(_SERIALIZER.loads(stored.data), token=token, idle_expires_at=stored.idle_expires_at)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        if session.accessed:
            response.vary.add("Cookie")
        engine, now, settings = self._context.engine, self._context.clock(), self._context.settings
        idle = timedelta(minutes=settings.SESSION_IDLE_MINUTES)
        if session.token is not None and (session.renewed or not session):
            delete_session(engine, session.token)
            if not session:
                response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="Lax")
                return
            session.token = None
        if session.token is None:
            if session:
                token = new_token()
                create_session(engine, token, _SERIALIZER.dumps(dict(session)), now,
                               lifetime=timedelta(minutes=settings.SESSION_LIFETIME_MINUTES), idle=idle)
                # No Expires: the cookie goes when the browser closes; the server ends it sooner.
                response.set_cookie(COOKIE, token, path="/", secure=True, httponly=True, samesite="Lax")
            return
        if session.modified or session.idle_expires_at is None or now + idle - session.idle_expires_at >= TOUCH_GRANULARITY:
            save_session(engine, session.token, _SERIALIZER.dumps(dict(session)), now, idle=idle)


def install(app: Flask, context: DashboardContext) -> None:
    """Server-side sessions and CSRF protection (checked by the role guard) on `app`."""
    from flask_wtf.csrf import CSRFProtect

    app.secret_key = context.settings.require("SECRET_KEY").get_secret_value()
    app.session_interface = DatabaseSessionInterface(context)
    app.config.update(
        # Checked by the role guard on the dashboard's own routes only: the webhooks take Graph's POSTs.
        WTF_CSRF_CHECK_DEFAULT=False,
        # The token lives as long as the session it is kept in, which has its own two deadlines.
        WTF_CSRF_TIME_LIMIT=None,
        # Flask-WTF's HTTPS check wants a Referer of this host, which Referrer-Policy: no-referrer
        # withholds; the token in a server-side session behind a `__Host-` cookie is the defence.
        WTF_CSRF_SSL_STRICT=False,
    )
    app.extensions[CSRF_EXTENSION] = CSRFProtect(app)


def sign_in(user: User) -> None:
    """Make `user` the session's user, under a new token."""
    session.clear()
    session["user"] = stored_user(user)
    session.renewed = True


def sign_out() -> None:
    """End the session: its row is deleted and the cookie removed."""
    session.clear()


def current_user() -> User | None:
    """The signed-in user of this request, or None."""
    stored = session.get("user")
    if stored is None:
        return None
    return User(stored["id"], stored["name"], frozenset(stored["roles"]), stored["auth"], stored.get("tenant_id"))


def stored_user(user: User) -> dict[str, Any]:
    """How a user is kept in the session."""
    return {"id": user.id, "name": user.name, "roles": sorted(user.roles), "auth": user.auth, "tenant_id": user.tenant_id}
