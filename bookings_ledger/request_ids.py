"""A request id on every request: bound into the log context, answered in `X-Request-Id`.

The caller's `X-Request-Id` is kept when it looks like an id (a reverse proxy's, so its log and
ours can be joined); anything else is replaced by a fresh random one, so a header cannot write
arbitrary text into our logs. The id is unbound after the request: gunicorn's threads serve one
request after another in the same context. At DEBUG, each answer is logged with its method, route
pattern and status: never the path as sent, the query string, a header or the client's address.
"""
from __future__ import annotations

import logging
import os
import re

from flask import Flask, Response, g, request
from structlog.contextvars import bind_contextvars, reset_contextvars

log = logging.getLogger(__name__)
HEADER = "X-Request-Id"
ENVIRON_KEY = "HTTP_X_REQUEST_ID"
INCOMING = re.compile(r"[A-Za-z0-9-]{8,64}")


def register_request_ids(app: Flask) -> None:
    """Give every request of `app` an id, in its log lines and in its answer."""
    app.before_request(_bind)
    app.after_request(_answer)
    app.teardown_request(_unbind)


def _bind() -> None:
    # Read from the WSGI environ, not request.headers: this runs on the webhook's hot path, where
    # Werkzeug's header view costs several times more (bench/webhook_ack.py).
    incoming = request.environ.get(ENVIRON_KEY)
    # 16 random bytes from the OS: cheaper than uuid4, and as unguessable.
    request_id = incoming if incoming and INCOMING.fullmatch(incoming) else os.urandom(16).hex()
    g.request_ids = request_id, bind_contextvars(request_id=request_id)


def _answer(response: Response) -> Response:
    if "request_ids" in g:   # absent only when a hook before ours answered
        response.headers[HEADER] = g.request_ids[0]
    if log.isEnabledFor(logging.DEBUG):
        # The route's pattern, not the path: a path or query string typed by anyone may hold anything.
        rule = request.url_rule.rule if request.url_rule is not None else "(no route)"
        log.debug("%s %s answered %d", request.method, rule, response.status_code)
    return response


def _unbind(_: BaseException | None) -> None:
    bound = g.pop("request_ids", None)
    if bound is not None:
        reset_contextvars(**bound[1])
