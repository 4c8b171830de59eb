"""The Flask app of the emulator: blueprints, then the checks Graph runs on every request."""

from __future__ import annotations

import time
import uuid

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from . import (batch, bookings, control, events_api, identity, inspect_api, mail, mailbox_settings, messages_api,
               subscriptions_api, users_api)
from .core import Emulator
from .errors import GraphError, error_body
from .faults import fault_error
from .request_log import BATCHED, WRITE_METHODS
from .responses import emulator, graph_json
from .timefmt import iso_utc

# URL parts naming the object a request writes, with its kind (None: the kind is in the URL).
_OBJECT_ARGS = (("appointment_id", "appointments"), ("event_id", "events"), ("entity_id", None),
                ("subscription_id", "subscriptions"), ("message_id", "messages"))


def create_app(core: Emulator) -> Flask:
    """Build the app around an :class:`Emulator`; starts nothing."""
    app = Flask("emulator")
    app.extensions["graph_emulator"] = core
    for blueprint in (identity.bp, bookings.bp, events_api.bp, mail.bp, messages_api.bp, mailbox_settings.bp,
                      subscriptions_api.bp, users_api.bp, batch.bp, control.bp, inspect_api.bp):
        app.register_blueprint(blueprint)
    app.before_request(_before)
    app.after_request(_after)
    app.teardown_request(_teardown)
    app.register_error_handler(GraphError, _graph_error)
    app.register_error_handler(HTTPException, _http_error)
    return app


def _before() -> None:
    """Graph's gate: request ids, mailbox limits (429), token (401), permission then mailbox scope (403), faults."""
    g.request_id = str(uuid.uuid4())
    g.client_request_id = request.headers.get("client-request-id") or g.request_id
    if not request.path.startswith("/v1.0"):
        return
    core = emulator()
    args = request.view_args or {}
    if args.get("business_id") or args.get("user"):
        mailbox = core.mailboxes.mailbox_key(args.get("business_id") or args["user"])
        core.limits.enter(mailbox, core.clock.now().timestamp())
        g.mailbox = mailbox  # taken: given back in _teardown, however the request ends
    core.identity.authenticate(request.headers.get("Authorization"), core.clock.now(), core.options.strict_auth)
    view = current_app.view_functions.get(request.endpoint or "")
    needed = getattr(view, "required_permissions", None)
    if needed:
        identity.Identity.authorize(needed(request.view_args or {}), core.options.granted_permissions)
    if args.get("user"):
        identity.check_mailbox_scope(core.mailboxes.mailbox_key(args["user"]), request.path, core.options.mailboxes_outside_app_scope)
    if request.path != "/v1.0/$batch":
        rule = core.faults.pick(request.method, request.path)
        if rule:
            if rule.latency_s:
                time.sleep(rule.latency_s)
            if rule.status:
                raise fault_error(rule, core.options.quirk_fractional_retry_after)


def _after(response: Response) -> Response:
    response.headers["request-id"] = g.get("request_id", "")
    response.headers["client-request-id"] = g.get("client_request_id", "")
    rule = request.url_rule.rule if request.url_rule else "(unmatched)"
    core = emulator()
    core.requests.count(request.method, rule, response.status_code)
    batched = bool(request.environ.get(BATCHED))
    core.request_log.add(request.method, request.full_path.rstrip("?"), response.status_code, request.headers, batched=batched)
    if request.method in WRITE_METHODS and request.path.startswith("/v1.0"):
        _log_object_write(core, response, rule, batched)
    return response


def _log_object_write(core: Emulator, response: Response, rule: str, batched: bool) -> None:
    """Log a write under the id of the object it wrote; a create's id comes from its 201 answer."""
    args = request.view_args or {}
    found = next(((args[name], kind or args.get("kind")) for name, kind in _OBJECT_ARGS if args.get(name)), None)
    if found is None and response.status_code == 201:
        created = response.get_json(silent=True) or {}
        found = (created.get("id"), args.get("kind") or rule.rstrip("/").rsplit("/", 1)[-1]) if created.get("id") else None
    if found is None:
        return
    object_id, kind = found
    core.object_log.add(object_id, {"method": request.method, "path": request.full_path.rstrip("?"), "status": response.status_code,
                                    "time": iso_utc(core.clock.now()), "batched": batched, "kind": kind,
                                    "mailbox": args.get("business_id") or args.get("user")})


def _teardown(_error: BaseException | None) -> None:
    if "mailbox" in g:
        emulator().limits.leave(g.pop("mailbox"))


def _graph_error(error: GraphError) -> Response:
    body = error_body(error.code, error.message, request_id=g.get("request_id", ""),
                      client_request_id=g.get("client_request_id", ""))
    response = graph_json(body, error.status)
    response.headers.update(error.headers)
    return response


def _http_error(error: HTTPException) -> Response:
    """Unknown routes and methods, answered as Graph answers them."""
    if error.code == 404:
        segment = request.path.rstrip("/").rsplit("/", 1)[-1]
        return _graph_error(GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'."))
    if error.code == 405:
        return _graph_error(GraphError(405, "Request_BadRequest", f"The HTTP method '{request.method}' is not allowed here."))
    return _graph_error(GraphError(error.code or 500, "UnknownError", error.description or "An error has occurred."))
