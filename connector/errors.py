"""The connector's exceptions: every failure talking to Graph is one of these.

    GraphError                  anything Graph (or the way to it) refused or broke
     ├── AuthenticationFailed   401, or the credential could not get a token
     ├── PermissionMissing      403; `.permissions` names what Graph asked for
     ├── NotFound               404
     ├── Gone                   410: a delta link expired, resync from scratch
     ├── InvalidRequest         any other 4xx: our request is wrong, retrying cannot help
     ├── Throttled              429 after the retry budget was spent; `.retry_after` in seconds
     ├── Unavailable            5xx, timeouts and connection failures after the retry budget
     └── OutcomeUnknown         a non-idempotent write (POST) timed out or got a 504: Graph may
                                or may not have acted, so it was not re-sent; reconcile first

Errors carry the method, the route with every id replaced by `{id}`, the HTTP status, Graph's
error code and request ids: never Graph's free-text message, ids or bodies, which can hold
personal data (a customer's email in a URL, a name echoed in a validation message).
"""
from __future__ import annotations

import re
from collections.abc import Mapping

# Path segments after these collection names are ids (a business id is a mailbox address).
_ID_AFTER = frozenset({
    "bookingBusinesses", "appointments", "customers", "users", "events", "subscriptions",
    "calendarView", "services", "staffMembers", "messages",
})
# Graph's fixed text for a mailbox the app may not reach (privacy-facts §1.12); it holds no data.
_OUTSIDE_SCOPE = "Access to OData is disabled"
# Graph names permissions like BookingsAppointment.ReadWrite.All or Calendars.Read.
_PERMISSION = re.compile(r"\b[A-Z][A-Za-z]+\.(?:Read|ReadWrite|Send|Manage)[A-Za-z]*(?:\.[A-Z][A-Za-z]*)*\b")


class GraphError(Exception):
    """A Graph call failed; see the module docstring for the tree."""

    retryable = False

    def __init__(
        self,
        summary: str,
        *,
        method: str = "",
        route: str = "",
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.method = method
        self.route = route
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after
        where = f"{method} {route}: " if method else ""
        rid = f" (request-id {request_id})" if request_id else ""
        super().__init__(f"{where}{summary}{rid}")


class AuthenticationFailed(GraphError):
    """Graph rejected the token (401) or no token could be obtained."""


class PermissionMissing(GraphError):
    """Graph refused the call (403); `permissions` lists the permissions Graph named;
    `outside_scope`: Graph said "Access to OData is disabled" (the mailbox is outside the app's
    Exchange RBAC scope or application access policy, or REST access is blocked org-wide)."""

    def __init__(self, summary: str, *, permissions: tuple[str, ...] = (), outside_scope: bool = False,
                 **context: object) -> None:
        self.permissions = permissions
        self.outside_scope = outside_scope
        if permissions:
            summary = f"{summary}; grant the application permission {' or '.join(permissions)}"
        super().__init__(summary, **context)  # type: ignore[arg-type]


class NotFound(GraphError):
    """The object does not exist (404); for a DELETE it may already have been deleted."""


class Gone(GraphError):
    """The resource or delta link is gone (410); start a full resync."""


class InvalidRequest(GraphError):
    """Graph refused the request as malformed or conflicting; retrying cannot help."""


class Throttled(GraphError):
    """Graph kept answering 429 until the retry budget was spent."""

    retryable = True


class Unavailable(GraphError):
    """Graph or the network failed (5xx, timeout, connection); `retryable` says if a retry may help."""

    def __init__(self, summary: str, *, retryable: bool = True, **context: object) -> None:
        self.retryable = retryable
        super().__init__(summary, **context)  # type: ignore[arg-type]


class OutcomeUnknown(GraphError):
    """A non-idempotent write may or may not have happened; it was deliberately not re-sent."""


def redact_path(path: str) -> str:
    """The path with its query dropped and every id segment replaced by `{id}`."""
    path = path.split("?", 1)[0]
    if "://" in path:
        path = "/" + path.split("://", 1)[1].split("/", 1)[-1]
    parts = path.split("/")
    for i in range(1, len(parts)):
        if parts[i - 1] in _ID_AFTER and parts[i] not in ("delta", "$count"):
            parts[i] = "{id}"
    return "/".join(parts)


def error_for_status(
    status: int,
    *,
    code: str | None,
    message: str | None,
    headers: Mapping[str, str],
    method: str,
    route: str,
    idempotent: bool,
    retry_after: float | None,
) -> GraphError:
    """The exception for an HTTP error answer; `message` is read only for permission names and the scope text."""
    context = {
        "method": method, "route": route, "status": status, "code": code,
        "request_id": headers.get("request-id") or headers.get("client-request-id"),
        "retry_after": retry_after,
    }
    summary = f"HTTP {status}" + (f" {code}" if code else "")
    if status == 401:
        return AuthenticationFailed(summary, **context)
    if status == 403:
        found = tuple(dict.fromkeys(_PERMISSION.findall(message or "")))
        return PermissionMissing(summary, permissions=found, outside_scope=_OUTSIDE_SCOPE in (message or ""), **context)
    if status == 404:
        return NotFound(summary, **context)
    if status == 410:
        return Gone(summary, **context)
    if status == 429:
        return Throttled(summary, **context)
    if status == 504 and not idempotent:
        # The gateway gave up waiting; the service behind it may still have acted.
        return OutcomeUnknown(summary + "; the write may have happened", **context)
    if status >= 500:
        return Unavailable(summary, retryable=status in (503, 504), **context)
    return InvalidRequest(summary, **context)
