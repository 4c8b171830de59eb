"""The credential the connector signs Graph requests with, chosen by GRAPH_CREDENTIAL.

Only **sync** azure-identity credentials are used: kiota's token provider has closed async
credentials after each token fetch, which breaks concurrent calls (graph-facts §4.6). A sync
`get_token` can block on the network, so `LoopSafeCredential` runs it in a worker thread and
the event loop keeps serving other requests meanwhile.

`StaticCredential` is for the emulator: azure-identity refuses any authority that is not https.
"""
from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken
    from config.settings import Settings

CredentialKind = Literal["secret", "certificate", "managed_identity", "static"]
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class TokenCredential(Protocol):
    """What azure-identity's sync credentials (and StaticCredential) provide."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken: ...

    def close(self) -> None: ...


class StaticCredential:
    """A fixed bearer token, for the emulator and tests."""

    def __init__(self, token: str = "emulator-token", lifetime: int = 3600) -> None:
        self._token = token
        self._lifetime = lifetime

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, int(time.time()) + self._lifetime)

    def close(self) -> None:
        """Nothing to release."""


class LoopSafeCredential:
    """Wraps a sync credential so token fetches run off the event loop (kiota awaits the result)."""

    def __init__(self, credential: TokenCredential) -> None:
        self.credential = credential

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return await asyncio.to_thread(self.credential.get_token, *scopes, **kwargs)


def resolve_kind(settings: Settings) -> CredentialKind:
    """GRAPH_CREDENTIAL, with `auto` meaning: static for a plain-http (emulator) base URL,
    else a certificate if one is set, else a client secret if one is set, else managed identity."""
    if settings.GRAPH_CREDENTIAL != "auto":
        return settings.GRAPH_CREDENTIAL
    if urlsplit(settings.GRAPH_BASE_URL).scheme == "http":
        return "static"
    if settings.GRAPH_CLIENT_CERTIFICATE:
        return "certificate"
    if settings.GRAPH_CLIENT_SECRET:
        return "secret"
    return "managed_identity"


def credential_from_settings(settings: Settings) -> TokenCredential:
    """Build the credential the settings ask for; a missing setting raises SettingsError naming it."""
    kind = resolve_kind(settings)
    if kind == "static":
        return StaticCredential()
    from azure.identity import CertificateCredential, ClientSecretCredential, ManagedIdentityCredential

    if kind == "managed_identity":
        return ManagedIdentityCredential(client_id=settings.GRAPH_CLIENT_ID)
    tenant_id = settings.require("GRAPH_TENANT_ID")
    client_id = settings.require("GRAPH_CLIENT_ID")
    if kind == "certificate":
        return CertificateCredential(tenant_id, client_id, str(settings.require("GRAPH_CLIENT_CERTIFICATE")))
    secret = settings.require("GRAPH_CLIENT_SECRET").get_secret_value()
    return ClientSecretCredential(tenant_id, client_id, secret)
