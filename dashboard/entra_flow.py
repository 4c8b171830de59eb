"""The sign-in in progress: msal's auth-code flow, kept server-side in the session, used once.

The flow holds the PKCE verifier and the nonce, so it never goes to the browser; the browser
carries only the `state` Entra echoes back. It is taken out of the session before it is used,
so a redirect replayed (or raced) finds nothing, whatever else happens to the request.
"""
from __future__ import annotations

import hmac
from typing import Any

from flask import session

PENDING = "entra_sign_in"


def keep(flow: dict[str, Any], next_path: str) -> None:
    """Remember the flow just started and where to go after it."""
    kept = {key: value for key, value in flow.items() if key != "auth_uri"}   # the browser has it
    session[PENDING] = {"flow": kept, "next": next_path}


def take(state: str) -> tuple[dict[str, Any], str] | None:
    """The pending flow and its `next` path if `state` is this session's, else None; either way
    the pending flow is gone afterwards."""
    pending = session.pop(PENDING, None)
    if not pending:
        return None
    # State is a secret of this session's sign-in: compared in constant time (msal's own check is not).
    if not hmac.compare_digest(str(pending["flow"].get("state", "")).encode(), state.encode()):
        return None
    return pending["flow"], pending["next"]

