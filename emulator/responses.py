"""Helpers every route module uses: the emulator in the current request, JSON answers, query args."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from flask import Response, current_app, request

from .errors import bad_request

if TYPE_CHECKING:
    from .core import Emulator

# What Graph sends as Content-Type on JSON answers.
GRAPH_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"


def emulator() -> Emulator:
    """The emulator that owns the app serving this request."""
    return current_app.extensions["graph_emulator"]


def graph_json(body: object, status: int = 200) -> Response:
    """A JSON answer with Graph's content type; key order is kept (``@odata.context`` first)."""
    return Response(json.dumps(body), status=status, content_type=GRAPH_JSON)


def no_content() -> Response:
    """204 No Content."""
    return Response(status=204)


def query_args() -> dict[str, str]:
    """The query string as a flat mapping."""
    return request.args.to_dict()


def json_body() -> dict:
    """The request body as a JSON object; anything else is Graph's 400."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise bad_request("Unable to read JSON request payload. Please ensure Content-Type header is set "
                          "and payload is of valid JSON format.")
    return body


def context(fragment: str, root: str = "") -> str:
    """An ``@odata.context`` URL; Bookings puts ``solutions/`` before ``$metadata`` (its docs' samples)."""
    return f"{request.host_url}v1.0/{root}$metadata#{fragment}"


def collection(fragment: str, items: list[dict], next_link: str | None, *, root: str = "", extra: dict | None = None) -> dict:
    """A collection document: context, optional extras (count, deltaLink), value, nextLink."""
    body = {"@odata.context": context(fragment, root), **(extra or {}), "value": items}
    if next_link:
        body["@odata.nextLink"] = next_link
    return body
