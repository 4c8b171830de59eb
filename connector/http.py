"""Raw JSON requests through the SDK's request adapter, with retries, limits and error mapping.

Hot paths skip the SDK's typed models: deserialising one Entity costs about 12 ms of CPU
(msgraph-sdk-python#584), so `send_primitive_async(..., "bytes", ...)` returns the body and
`json.loads` reads it. The adapter still does auth, telemetry and ODataError mapping.
"""
from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from azure.core.exceptions import ClientAuthenticationError
from kiota_abstractions.api_error import APIError
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_http.middleware.options import HeadersInspectionHandlerOption
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from .batch import status_label
from .client import GraphClient
from .errors import AuthenticationFailed, GraphError, OutcomeUnknown, Unavailable, error_for_status, redact_path
from .limits import MailboxLimiter
from .retry import RetryPolicy, is_idempotent

T = TypeVar("T")
ERROR_MAP = {"XXX": ODataError}
# Told of every answer Graph gave (or did not give): (method, route with ids as {id}, status label).
CallObserver = Callable[[str, str, str], None]


def _ignore(method: str, route: str, status: str) -> None:
    """The observer when nobody counts Graph calls."""


class GraphHttp:
    """Async JSON requests to Graph; use only on the connector's event loop."""

    def __init__(self, client: GraphClient, *, policy: RetryPolicy, limiter: MailboxLimiter,
                 observe: CallObserver | None = None) -> None:
        self.client = client
        self.policy = policy
        self.limiter = limiter
        self.observe = observe or _ignore
        self.base_url: str = client.adapter.base_url

    def url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        """The absolute URL of a path under the version root (absolute URLs pass through)."""
        url = path if "://" in path else self.base_url + path
        return f"{url}?{urlencode(params)}" if params else url

    async def request(self, method: str, path: str, **options: Any) -> Any:
        """`request_once` under the retry policy: the parsed JSON answer, or None if empty."""
        return await self.policy.run(lambda: self.request_once(method, path, **options))

    async def request_once(
        self,
        method: str,
        path: str,
        *,
        mailbox: str | None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        weight: int = 1,
        answer_headers: dict[str, str] | None = None,
    ) -> Any:
        """Send one request once (no retry), holding a mailbox slot while it is in flight; with
        `answer_headers`, the answer's headers (lower-cased) are put there (Graph's request-id is evidence)."""
        info = RequestInformation(Method(method))
        info.url = self.url(path, params)
        info.headers.try_add("Accept", "application/json")
        for name, value in (headers or {}).items():
            info.headers.try_add(name, value)
        if body is not None:
            info.headers.try_add("Content-Type", "application/json")
            info.content = json.dumps(body, separators=(",", ":")).encode()
        inspection = HeadersInspectionHandlerOption(inspect_request_headers=False, inspect_response_headers=True)
        if answer_headers is not None:
            info.add_request_options([inspection])
        async with self.limiter.slot(mailbox, weight):
            raw = await self.translate(
                self.client.adapter.send_primitive_async(info, "bytes", ERROR_MAP),
                method=method, route=redact_path(path), idempotent=is_idempotent(method, idempotent),
            )
        if answer_headers is not None:
            answer_headers.update({name.lower(): ",".join(sorted(values))
                                   for name, values in inspection.response_headers.get_all().items()})
        return json.loads(raw) if raw else None

    async def typed(
        self,
        call: Callable[[Any], Awaitable[T]],
        *,
        method: str,
        route: str,
        mailbox: str | None = None,
        idempotent: bool | None = None,
    ) -> T:
        """Run `call(GraphServiceClient)` (a typed SDK call) under the same policy, limits and errors."""

        async def attempt() -> T:
            async with self.limiter.slot(mailbox):
                return await self.translate(
                    call(self.client.service), method=method, route=route,
                    idempotent=is_idempotent(method, idempotent),
                )

        return await self.policy.run(attempt)

    async def translate(self, pending: Awaitable[T], *, method: str, route: str, idempotent: bool) -> T:
        """Await `pending`, turning SDK, httpx and credential failures into GraphError, and tell
        the observer the outcome. The originals are not chained (`from None`): their messages can echo personal data.
        """
        try:
            answer = await self._translated(pending, method=method, route=route, idempotent=idempotent)
        except GraphError as exc:   # counted once per attempt: a retried 429 shows as a 429 and a 2xx
            self.observe(method, route, status_label(exc.status))
            raise
        self.observe(method, route, "2xx")
        return answer

    async def _translated(self, pending: Awaitable[T], *, method: str, route: str, idempotent: bool) -> T:
        context = {"method": method, "route": route}
        try:
            return await pending
        except APIError as exc:
            raise self.error_from_api(exc, method=method, route=route, idempotent=idempotent) from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached Graph, so re-sending is safe whatever the method.
            raise Unavailable(f"could not reach Graph ({type(exc).__name__})", **context) from None
        except httpx.TransportError as exc:
            if not idempotent:
                raise OutcomeUnknown(
                    f"no answer ({type(exc).__name__}); the write may have happened, not re-sent", **context
                ) from None
            raise Unavailable(f"no answer ({type(exc).__name__})", **context) from None
        except ClientAuthenticationError:
            raise AuthenticationFailed("the credential could not get a token", **context) from None

    def error_from_api(self, exc: APIError, *, method: str, route: str, idempotent: bool) -> GraphError:
        """The GraphError for an SDK APIError (an ODataError when Graph sent a JSON error body)."""
        main = getattr(exc, "error", None)
        headers = {k.lower(): v for k, v in (exc.response_headers or {}).items()}
        return self.error_from_parts(
            exc.response_status_code or 0, headers,
            code=getattr(main, "code", None), message=getattr(main, "message", None),
            method=method, route=route, idempotent=idempotent,
        )

    def error_from_parts(
        self, status: int, headers: Mapping[str, str], *, code: str | None, message: str | None,
        method: str, route: str, idempotent: bool,
    ) -> GraphError:
        """The GraphError for a status, lower-cased headers and Graph's error code and message."""
        return error_for_status(
            status, code=code, message=message, headers=headers, method=method, route=route,
            idempotent=idempotent, retry_after=self.policy.parse_retry_after(headers.get("retry-after")),
        )

