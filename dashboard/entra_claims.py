"""The checks msal leaves to us, and the dashboard's user made from an ID token that passes them.

msal decodes the ID token without checking its signature, issuer, audience or times; it checks
only the nonce (privacy-facts §3.2). The token came straight from the tenant's token endpoint
over TLS, which OpenID Connect accepts in place of the signature; what stays ours is that it was
issued by our tenant, for our registration, and is current. Roles come from the `roles` claim
(the app registration's app roles) and nowhere else.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.roles import ROLES, User

# Clocks of Entra and of this host may differ a little; a minute covers NTP-kept machines.
CLOCK_SKEW_SECONDS = 60


class SignInRefused(Exception):
    """The sign-in cannot complete; `reason` is a short code for the log (no names, no claims)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def user_from_claims(claims: dict[str, Any], *, tenant_id: str, client_id: str, issuer: str,
                     now: datetime) -> User:
    """The signed-in user the ID token's claims describe, or SignInRefused naming the failed check."""
    if str(claims.get("tid", "")).lower() != tenant_id.lower():
        raise SignInRefused("wrong-tenant")
    if claims.get("iss") != issuer:
        raise SignInRefused("wrong-issuer")
    if claims.get("aud") != client_id:
        raise SignInRefused("wrong-audience")
    _check_times(claims, now.timestamp())
    oid = claims.get("oid")
    if not isinstance(oid, str) or not oid:
        raise SignInRefused("no-object-id")
    granted = claims.get("roles", [])
    roles = frozenset(role for role in granted if role in ROLES) if isinstance(granted, list) else frozenset()
    # The name is shown on the page only; the ledger records the id.
    name = claims.get("name") or claims.get("preferred_username") or oid
    return User(f"entra:{oid}", str(name), roles, "entra", tenant_id=str(claims["tid"]).lower())


def _check_times(claims: dict[str, Any], now: float) -> None:
    expires, issued = claims.get("exp"), claims.get("iat")
    not_before = claims.get("nbf", issued)     # optional in a JWT; Entra sends it
    if not all(isinstance(value, (int, float)) for value in (expires, issued, not_before)):
        raise SignInRefused("no-times")
    if expires + CLOCK_SKEW_SECONDS < now:
        raise SignInRefused("expired")
    if max(issued, not_before) - CLOCK_SKEW_SECONDS > now:
        raise SignInRefused("not-yet-valid")
