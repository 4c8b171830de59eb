"""The dashboard's msal application: one per process, built on the first sign-in.

msal fetches the tenant's OpenID configuration when the application is built and keeps it, so
building it once saves a round trip per sign-in; building it lazily keeps the app factory free
of network calls (STYLE.md, habit 1) and lets a process that never signs anyone in start offline.
"""
from __future__ import annotations

import threading
from typing import Any

import msal
from flask import current_app

from config.settings import SettingsError
from dashboard.context import context

EXTENSION = "bookings_ledger.entra"
_building = threading.Lock()


class _NothingKept(msal.TokenCache):
    """A token cache that keeps nothing: the dashboard only signs people in and calls no API as
    them, so holding every user's tokens in the process's memory would be risk with no use."""

    def add(self, event: dict[str, Any], now: float | None = None) -> None:
        return None


# What reaching the tenant can raise: the network, or an error answer msal turns into an exception.
UNREACHABLE = (OSError, msal.exceptions.MsalError)


class EntraUnavailable(Exception):
    """The msal application cannot be built: a setting is missing or the tenant's OpenID
    configuration cannot be read. Nothing is kept, so the next sign-in tries again."""


def msal_app() -> msal.ConfidentialClientApplication:
    """The process's msal application for the dashboard's app registration."""
    app = current_app.extensions.get(EXTENSION)
    if app is None:
        with _building:
            app = current_app.extensions.get(EXTENSION)
            if app is None:
                try:
                    app = _built(context().settings)
                except SettingsError as error:
                    raise EntraUnavailable(str(error)) from error
                except (ValueError, *UNREACHABLE) as error:    # msal: ValueError when discovery fails
                    raise EntraUnavailable(f"tenant discovery failed: {type(error).__name__}") from error
                current_app.extensions[EXTENSION] = app
    return app


def client_id(settings: Any) -> str:
    """The dashboard's app registration: its own if set, else the service's Graph registration."""
    return settings.DASHBOARD_CLIENT_ID or settings.require("GRAPH_CLIENT_ID")


def authority(settings: Any) -> str:
    """The tenant's own authority, never /common or /organizations: only its users can sign in."""
    return f"{settings.ENTRA_AUTHORITY_HOST}/{settings.require('GRAPH_TENANT_ID')}"


def issuer(settings: Any) -> str:
    """The `iss` of the tenant's v2.0 ID tokens."""
    return f"{authority(settings)}/v2.0"


def _built(settings: Any) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id(settings), client_credential=_credential(settings), authority=authority(settings),
        # No refresh token is wanted (see _NothingKept); openid and profile give the ID token.
        exclude_scopes=["offline_access"], token_cache=_NothingKept())


def _credential(settings: Any) -> str | dict[str, str]:
    """The dashboard's own secret; without one, the Graph registration's certificate or secret."""
    if settings.DASHBOARD_CLIENT_SECRET is not None:
        return settings.DASHBOARD_CLIENT_SECRET.get_secret_value()
    if settings.DASHBOARD_CLIENT_ID and settings.DASHBOARD_CLIENT_ID != settings.GRAPH_CLIENT_ID:
        # The Graph registration's credentials cannot sign in as another registration.
        raise SettingsError("setting DASHBOARD_CLIENT_SECRET is required with a DASHBOARD_CLIENT_ID of its own")
    if settings.GRAPH_CLIENT_CERTIFICATE is not None:
        # The PEM file azure-identity reads (key and certificate); msal takes the key from it and
        # derives the SHA-256 thumbprint from the certificate.
        pem = settings.GRAPH_CLIENT_CERTIFICATE.read_text(encoding="ascii")
        return {"private_key": pem, "public_certificate": pem}
    if settings.GRAPH_CLIENT_SECRET is not None:
        return settings.GRAPH_CLIENT_SECRET.get_secret_value()
    raise SettingsError("setting DASHBOARD_CLIENT_SECRET is required for Entra sign-in "
                        "(or GRAPH_CLIENT_CERTIFICATE / GRAPH_CLIENT_SECRET when the Graph registration signs users in)")
