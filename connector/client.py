"""Builds the process's one GraphServiceClient and request adapter, and closes them for real.

Imported only on the connector's loop thread when the connector opens: importing msgraph costs
about half a second and hundreds of modules, which the web process must never pay.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from .credentials import GRAPH_SCOPE, LoopSafeCredential, TokenCredential


@dataclass(frozen=True)
class GraphClient:
    """The SDK client, its request adapter, and the httpx pieces that must be closed."""

    service: Any  # msgraph.GraphServiceClient, kept untyped so this module imports without msgraph
    adapter: Any  # msgraph.GraphRequestAdapter
    http: httpx.AsyncClient

    async def aclose(self) -> None:
        """Close the pool: msgraph-core's AsyncGraphTransport has no aclose(), so
        `http.aclose()` alone leaves every connection open (sdk-notes §4)."""
        transports = [self.http._transport, *(t for t in self.http._mounts.values() if t is not None)]
        await self.http.aclose()
        for transport in transports:
            await getattr(transport, "transport", transport).aclose()


def build_graph_client(base_url: str, credential: TokenCredential, *, timeout: float = 60.0) -> GraphClient:
    """A client for `base_url` (e.g. https://graph.microsoft.com/v1.0) with the SDK's retries off.

    Call on the connector's event loop: the httpx pool binds to the loop that first uses it.
    """
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from kiota_http.middleware.options import RetryHandlerOption, UrlReplaceHandlerOption
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph._version import VERSION
    from msgraph_core import APIVersion, GraphClientFactory
    from msgraph_core.middleware.options import GraphTelemetryHandlerOption

    # RetryHandler off client-wide: it re-sends POST and PATCH on 503/504 (graph-facts §4.4);
    # retry.py is the only retry layer. The other two are the options msgraph sets by default.
    options = {
        RetryHandlerOption.get_key(): RetryHandlerOption(max_retries=0, should_retry=False),
        UrlReplaceHandlerOption.get_key(): UrlReplaceHandlerOption(
            enabled=True, replacement_pairs={"/users/me-token-to-replace": "/me"}
        ),
        GraphTelemetryHandlerOption.get_key(): GraphTelemetryHandlerOption(
            api_version=APIVersion.v1, sdk_version=VERSION
        ),
    }
    http = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), http2=True)
    http = GraphClientFactory.create_with_default_middleware(client=http, options=options)
    # Bare hostname only: a URL entry raises, and a token is never sent to any other host.
    auth = AzureIdentityAuthenticationProvider(
        LoopSafeCredential(credential), scopes=[GRAPH_SCOPE], allowed_hosts=[urlsplit(base_url).hostname or ""]
    )
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = base_url.rstrip("/")  # a trailing slash would send //solutions/...
    return GraphClient(service=GraphServiceClient(request_adapter=adapter), adapter=adapter, http=http)
