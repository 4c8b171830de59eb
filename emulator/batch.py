"""JSON batching, ``POST /v1.0/$batch`` (graph-facts §3, json-batching).

At most 20 requests with unique ids and relative URLs; each runs through the same app (auth,
permissions, faults) so a throttled member gets its own 429 inside the 200 envelope; a member
whose dependency failed gets 424; responses may come back in another order.
"""

from __future__ import annotations

import json
import uuid

from flask import Blueprint, Response, current_app, request
from werkzeug.test import EnvironBuilder, run_wsgi_app

from .errors import GraphError, bad_request, error_body
from .request_log import BATCHED
from .responses import emulator, graph_json, json_body

bp = Blueprint("batch", __name__)
MAX_REQUESTS = 20
_DROPPED_HEADERS = {"content-length", "date", "server", "connection", "request-id", "client-request-id"}


@bp.post("/v1.0/$batch")
def batch() -> Response:
    """Run the member requests in dependency order and answer one envelope."""
    members = _validated(json_body())
    results: dict[str, dict] = {}
    pending = list(members)
    while pending:
        ready = [m for m in pending if all(d in results for d in m.get("dependsOn", []))]
        if not ready:
            raise bad_request("The dependsOn graph of the batch has a cycle.")
        for member in ready:
            failed = [d for d in member.get("dependsOn", []) if not 200 <= results[d]["status"] < 300]
            results[member["id"]] = _failed_dependency(member["id"]) if failed else _run(member)
            pending.remove(member)
    responses = [results[m["id"]] for m in members]
    core = emulator()
    if core.options.batch_shuffle_responses:
        core.rng.shuffle(responses)
    return graph_json({"responses": responses})


def _validated(body: dict) -> list[dict]:
    members = body.get("requests")
    if not isinstance(members, list) or not members:
        raise bad_request("Invalid batch payload format: 'requests' is required.")
    if len(members) > MAX_REQUESTS:
        raise bad_request(f"Number of batch request steps exceeds the maximum of {MAX_REQUESTS}.")
    ids = [str(m.get("id", "")) for m in members if isinstance(m, dict)]
    if len(ids) != len(members) or any(not (m.get("method") and m.get("url")) or not m.get("id") for m in members):
        raise bad_request("Each batch request needs an id, a method and a url.")
    if len(set(ids)) != len(ids):
        raise bad_request("Batch request ids must be unique.")
    for member in members:
        if member["url"].lower().startswith(("http://", "https://")):
            raise bad_request("Batch request urls must be relative.")
        if any(d not in ids for d in member.get("dependsOn", [])):
            raise bad_request(f"Request '{member['id']}' depends on an id that is not in the batch.")
    return members


def _run(member: dict) -> dict:
    """Send one member through the app as its own request."""
    headers = {k: str(v) for k, v in (member.get("headers") or {}).items()}
    if member.get("body") is not None and not any(k.lower() == "content-type" for k in headers):
        return _member_error(member["id"], GraphError(400, "BadRequest", "A request with a body must have a Content-Type header."))
    if "Authorization" in request.headers:
        headers["Authorization"] = request.headers["Authorization"]  # members share the envelope's token
    path, _, query = ("/" + member["url"].lstrip("/")).partition("?")
    data = member.get("body")
    builder = EnvironBuilder(path="/v1.0" + path, query_string=query, method=member["method"].upper(), headers=headers,
                             data=json.dumps(data) if isinstance(data, (dict, list)) else data, base_url=request.host_url)
    environ = builder.get_environ()
    environ[BATCHED] = True  # the request log flags members
    try:
        app_iter, status, response_headers = run_wsgi_app(current_app.wsgi_app, environ, buffered=True)
        payload = b"".join(app_iter)
    finally:
        builder.close()
    result = {"id": member["id"], "status": int(status.split()[0]),
              "headers": {k: v for k, v in response_headers.items() if k.lower() not in _DROPPED_HEADERS}}
    if payload:
        content_type = response_headers.get("Content-Type", "")
        result["body"] = json.loads(payload) if "json" in content_type else payload.decode()
    return result


def _failed_dependency(member_id: str) -> dict:
    return _member_error(member_id, GraphError(424, "FailedDependency", "The request failed because a request it depends on failed."))


def _member_error(member_id: str, error: GraphError) -> dict:
    request_id = str(uuid.uuid4())
    return {"id": member_id, "status": error.status, "headers": {"Content-Type": "application/json"},
            "body": error_body(error.code, error.message, request_id=request_id, client_request_id=request_id)}
