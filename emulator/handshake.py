"""The validation handshake Graph runs against a notification URL before creating a subscription.

graph-facts §2.4: Graph POSTs to ``{url}?validationToken={opaque}`` with ``text/plain`` and
expects, within 10 s, 200 + ``text/plain`` + the URL-decoded token as the whole body.
"""

from __future__ import annotations

import httpx

# Graph's failure messages; the first two are quoted in the sources of §2.4.
TIMED_OUT = "Subscription validation request timed out."
BAD_STATUS = "Subscription validation request failed. HTTP status code is '{reason}'."
UNREACHABLE = "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request."
BAD_ANSWER = "Subscription validation request failed. Response must exactly match validationToken query parameter."


def validate_endpoint(url: str, token: str, timeout: float) -> str | None:
    """Run one handshake; None when the endpoint passed, else Graph's error message."""
    target = httpx.URL(url).copy_merge_params({"validationToken": token})
    try:
        with httpx.Client(timeout=timeout) as client:
            response = client.post(target, content=b"", headers={"Content-Type": "text/plain; charset=utf-8"})
    except httpx.TimeoutException:
        return TIMED_OUT
    except httpx.HTTPError:
        return UNREACHABLE
    if response.status_code != 200:
        return BAD_STATUS.format(reason=response.reason_phrase or response.status_code)
    if not response.headers.get("content-type", "").lower().startswith("text/plain") or response.text != token:
        return BAD_ANSWER
    return None
