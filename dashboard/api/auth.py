"""Bearer tokens for the JSON API, asked by the role guard (dashboard.roles) before every API view.

`Authorization: Bearer bl_<id>_<secret>` (state/api_tokens.py) and nothing else: a session
cookie sent along is never read, so a page in a signed-in officer's browser cannot call the API
for them, and the API needs no CSRF token. One answer for every bad token (missing, malformed,
unknown, wrong secret, expired, revoked): 401, so a caller learns nothing about which tokens
exist; a good token without one of the view's scopes: 403 naming the scopes needed (RFC 6750).
"""
from __future__ import annotations

from flask import Response, g, request

from dashboard.api.operations import problem_response
from dashboard.context import context
from state.api_tokens import TokenInfo, authenticate

MAX_TOKEN_CHARACTERS = 200     # ours are 63; anything far longer is not one of ours


def authorise(scopes: frozenset[str]) -> Response | None:
    """None when the request's bearer token holds one of `scopes` (it is then `token()`); the refusal otherwise."""
    kind, _, presented = request.headers.get("Authorization", "").partition(" ")
    presented = presented.strip()
    info = None
    if kind.lower() == "bearer" and 0 < len(presented) <= MAX_TOKEN_CHARACTERS:
        info = authenticate(context().engine, presented, context().clock())
    if info is None:
        refused = problem_response(401, "Unauthorized", "send a valid API token: Authorization: Bearer <token>")
        refused.headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return refused
    if scopes.isdisjoint(info.scopes):
        needed = " ".join(sorted(scopes))
        refused = problem_response(403, "Forbidden", f"this needs a token with the scope {needed.replace(' ', ' or ')}")
        refused.headers["WWW-Authenticate"] = f'Bearer realm="api", error="insufficient_scope", scope="{needed}"'
        return refused
    g.api_token = info
    return None


def token() -> TokenInfo:
    """The token the current API request was authorised with."""
    return g.api_token


def caller() -> str:
    """Who the ledger records as deciding: the token's id, never its name."""
    return f"api:{token().token_id}"
