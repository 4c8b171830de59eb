"""What a client writes into a message (sendMail or a draft), checked as Graph checks it.

Recipients need an address with an ``@``; the body's contentType is text or html; custom
``internetMessageHeaders`` must be named ``x-…``: Graph answers 400 ``InvalidInternetMessageHeader``
"The internet message header name 'To' should start with 'x-' or 'X-'."
(terminal42/contao-notification_center#436). Sending with no recipient at all is
``ErrorInvalidRecipients`` (php-connect-rest-sample#39, msgraph-sdk-dotnet#1891).
"""

from __future__ import annotations

from .errors import GraphError, bad_request
from .messages import preview

RECIPIENT_LISTS = ("toRecipients", "ccRecipients", "bccRecipients")


def no_recipients() -> GraphError:
    """Graph's answer to a send without any recipient."""
    return bad_request("At least one recipient isn't valid., A message can't be sent because it contains no recipients.",
                       "ErrorInvalidRecipients")


def recipient_list(given: object) -> list[dict]:
    """A recipient list in Graph's shape (a name defaults to the address); 400 for a malformed one."""
    given = given or []
    if not isinstance(given, list) or not all(isinstance(r, dict) and "@" in str((r.get("emailAddress") or {}).get("address", ""))
                                              for r in given):
        raise bad_request("At least one recipient is not valid., Recipient is missing.", "ErrorInvalidRecipients")
    return [{"emailAddress": {"name": r["emailAddress"].get("name") or r["emailAddress"]["address"],
                              "address": r["emailAddress"]["address"]}} for r in given]


def body_fields(given: object) -> dict:
    """``body`` (content type lower-cased) and its ``bodyPreview``; 400 unless text or html."""
    content = given or {}
    if not isinstance(content, dict) or str(content.get("contentType", "text")).lower() not in ("text", "html"):
        raise bad_request("The message body contentType must be text or html.", "ErrorInvalidRequest")
    body = {"contentType": str(content.get("contentType", "text")).lower(), "content": str(content.get("content") or "")}
    return {"body": body, "bodyPreview": preview(body)}


def custom_headers(given: object) -> list[dict]:
    """A message's internet headers: a list of {name, value}, every name ``x-…``."""
    if given is None:
        return []
    if not isinstance(given, list) or not all(isinstance(h, dict) and isinstance(h.get("name"), str) for h in given):
        raise bad_request("internetMessageHeaders must be a list of {name, value}.", "ErrorInvalidRequest")
    for header in given:
        if not header["name"].lower().startswith("x-"):
            raise GraphError(400, "InvalidInternetMessageHeader",
                             f"The internet message header name '{header['name']}' should start with 'x-' or 'X-'.")
    return [{"name": h["name"], "value": str(h.get("value") or "")} for h in given]
