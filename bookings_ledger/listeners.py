"""What every response carries, and which listener serves which paths.

`serve --metrics-bind HOST:PORT` binds gunicorn to the public address and to an internal one.
Requests are told apart by the local port of the connection they came in on (the socket, never
the Host header, which the client writes): /metrics and /readyz answer only on the internal
listener, so the database-backed readiness check and the inbox gauges are not on the internet,
and the internal listener serves nothing else.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

from webhooks.problems import problem

INTERNAL_PATHS = frozenset({"/metrics", "/readyz"})
BOTH_LISTENERS = frozenset({"/healthz"})   # the load balancer's liveness probe may use either


def register_security_headers(app: Flask) -> None:
    """`nosniff` on every response, and a CSP that allows nothing on every non-HTML one."""

    def secure(response: Response) -> Response:
        response.headers["X-Content-Type-Options"] = "nosniff"
        if response.mimetype != "text/html":
            # Nothing the API, the webhooks or an error returns is meant to be rendered: even a
            # handshake echo opened in a browser runs no script and loads nothing.
            response.headers["Content-Security-Policy"] = "default-src 'none'"
        return response

    app.after_request(secure)


def register_internal_listener(app: Flask, internal_port: int) -> None:
    """Serve INTERNAL_PATHS only on the connection's local `internal_port`, and only those there."""

    def route_by_listener() -> Response | None:
        internal = _local_port(request.environ) == internal_port
        path = request.path
        if path in BOTH_LISTENERS or (path in INTERNAL_PATHS) == internal:
            return None
        return problem(404, "Not Found")

    app.before_request(route_by_listener)


def _local_port(environ: dict[str, Any]) -> int | None:
    # gunicorn and werkzeug both hand the connection's socket to the app.
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    try:
        return int(sock.getsockname()[1]) if sock is not None else None
    except (OSError, IndexError, TypeError, ValueError):
        return None
