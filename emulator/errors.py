"""Graph's error shape, and the one exception every emulator layer raises to produce it.

    GraphError            any failure answered with Graph's JSON error body
     └── (status, code)   e.g. 404 ErrorItemNotFound, 400 InvalidRequest, 429 TooManyRequests

Graph answers every failure with ``{"error": {"code", "message", "innerError": {...}}}`` and
``request-id``/``client-request-id`` headers; the views raise, one handler renders.
"""

from __future__ import annotations

from datetime import datetime, timezone


class GraphError(Exception):
    """A failure answered with Graph's error body."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_body(code: str, message: str, *, request_id: str, client_request_id: str) -> dict:
    """Build Graph's error document (code, message, innerError with request ids and the UTC date)."""
    date = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": date, "request-id": request_id, "client-request-id": client_request_id},
        }
    }


def not_found(what: str = "The specified object was not found in the store.") -> GraphError:
    """Exchange-backed resources (Bookings, events) answer a missing item like this."""
    return GraphError(404, "ErrorItemNotFound", what)


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    """A malformed request."""
    return GraphError(400, code, message)
