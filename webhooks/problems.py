"""One JSON error shape for every error the web app returns: RFC 9457 problem details."""
from __future__ import annotations

from flask import Response, json


def problem(status: int, title: str, detail: str | None = None) -> Response:
    """An `application/problem+json` response; `detail` must never carry personal data."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")
