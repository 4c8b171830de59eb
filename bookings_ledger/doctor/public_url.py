"""PUBLIC_BASE_URL: HTTPS (Graph delivers notifications to nothing else), and it answers Graph's
validation handshake, which proves the webhook path is reachable through the reverse proxy."""
from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit

from .context import Findings
from .report import Line, fail, ok, skipped, warn

HANDSHAKE_PATH = "/webhooks/graph"
TIMEOUT_S = 10.0  # Graph itself waits 10 s for the handshake (graph-facts §2.4)


def check(findings: Findings) -> Iterator[Line]:
    settings = findings.settings
    if settings is None:
        yield skipped("PUBLIC_BASE_URL", "settings")
        return
    url = settings.PUBLIC_BASE_URL
    yield _scheme_line(url)
    yield _answers_line(url)


def _scheme_line(url: str) -> Line:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return ok("PUBLIC_BASE_URL is HTTPS", url)
    if _loopback(parts.hostname or ""):
        return warn("PUBLIC_BASE_URL is HTTPS", f"{url} is plain http on this machine: the demo, which Graph cannot reach",
                    "in production set PUBLIC_BASE_URL to the public https:// address of the reverse proxy")
    return fail("PUBLIC_BASE_URL is HTTPS", f"{url} is plain http: Graph delivers notifications only to https",
                "serve the webhooks behind a reverse proxy with a TLS certificate and set PUBLIC_BASE_URL to its https:// URL")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _answers_line(url: str) -> Line:
    import httpx

    check = "PUBLIC_BASE_URL answers"
    token = f"doctor-{secrets.token_urlsafe(12)}"
    try:
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as http:
            health = http.get(f"{url}/healthz").status_code
            handshake = http.post(f"{url}{HANDSHAKE_PATH}", params={"validationToken": token})
    except httpx.HTTPError as exc:
        return fail(check, f"no answer from {url} ({type(exc).__name__})",
                    "start `bookings-ledger serve --only webhooks` and check DNS, firewall and the reverse proxy")
    if handshake.status_code != 200 or handshake.text != token:
        return fail(check, f"POST {HANDSHAKE_PATH}?validationToken=... answered {handshake.status_code} without "
                           "echoing the token, so Graph cannot create subscriptions",
                    f"route {HANDSHAKE_PATH} and {HANDSHAKE_PATH}/lifecycle through the proxy to `serve --only webhooks`")
    health_note = "200" if health == 200 else f"{health}, fine when the proxy exposes only the webhook paths"
    return ok(check, f"the validation handshake on {HANDSHAKE_PATH} echoes (GET /healthz: {health_note})")
