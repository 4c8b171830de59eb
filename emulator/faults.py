"""Injected faults: throttling and errors on Graph routes, and misbehaving notification delivery.

Request rules apply to ``/v1.0`` routes (including each request inside a ``$batch``, so a
throttled item gets its own 429 inside a 200 envelope, §3). Shares are drawn from a seeded
generator, so a run with the same seed and the same request order sees the same faults.
"""

from __future__ import annotations

import math
import random
import re
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from .errors import GraphError

# Graph's codes and messages for the injected statuses.
_ERRORS = {429: ("TooManyRequests", "Too many requests. Please retry after the time in the Retry-After header."),
           503: ("ServiceUnavailable", "The service is temporarily unavailable. Please retry later."),
           504: ("GatewayTimeout", "The gateway did not receive a timely response.")}


@dataclass
class RequestFault:
    """One rule: which requests (route regex, method), how many (share or count), what happens."""

    status: int = 429           # 429, 503 or 504; 0 for latency only
    share: float = 1.0          # fraction of matching requests hit
    count: int | None = None    # hit only the next N matching requests
    route: str | None = None    # regular expression searched in the path
    method: str | None = None
    retry_after: float | None = 1.0
    retry_after_http_date: bool = False  # Retry-After as an HTTP-date (RFC 9110 §10.2.3) instead of seconds
    latency_s: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and (self.route is None or re.search(self.route, path) is not None)


class Faults:
    """The current fault rules and the seeded dice they are rolled with."""

    NOTIFICATION_FAULTS = ("drop", "duplicate", "reorder")

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.rules: list[RequestFault] = []
        self.notifications: dict[str, float] = dict.fromkeys(self.NOTIFICATION_FAULTS, 0.0)

    def configure(self, body: dict) -> None:
        """Replace the rules: ``{"requests": [RequestFault fields…], "notifications": {"drop": 0.1, …}}``."""
        try:
            rules = [RequestFault(**rule) for rule in body.get("requests", [])]
        except TypeError as error:
            raise GraphError(400, "BadRequest", f"Invalid fault rule: {error}") from None
        unknown = set(body.get("notifications", {})) - set(self.NOTIFICATION_FAULTS)
        if unknown:
            raise GraphError(400, "BadRequest", f"Unknown notification faults: {', '.join(sorted(unknown))}")
        with self._lock:
            self.rules = rules
            self.notifications = {**dict.fromkeys(self.NOTIFICATION_FAULTS, 0.0), **body.get("notifications", {})}

    def clear(self) -> None:
        """No faults."""
        self.configure({})

    def describe(self) -> dict:
        """The rules as JSON."""
        return {"requests": [asdict(rule) for rule in self.rules], "notifications": dict(self.notifications)}

    def pick(self, method: str, path: str) -> RequestFault | None:
        """The rule hitting this request, if any (a counted rule is used up as it hits)."""
        with self._lock:
            for rule in self.rules:
                if not rule.matches(method, path) or self._rng.random() >= rule.share:
                    continue
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self.rules.remove(rule)
                return rule
        return None

    def roll(self, fault: str) -> bool:
        """Whether this notification suffers ``fault`` (drop, duplicate, reorder)."""
        with self._lock:
            return self._rng.random() < self.notifications.get(fault, 0.0)


def fault_error(rule: RequestFault, fractional_retry_after: bool) -> GraphError:
    """The Graph error an injected status produces, with Retry-After when the rule gives one."""
    code, message = _ERRORS.get(rule.status, ("UnknownError", "An error has occurred."))
    headers = {}
    if rule.retry_after is not None and rule.retry_after_http_date:
        # The client compares the date with its own clock, so real time, not the warpable one.
        when = datetime.now(timezone.utc) + timedelta(seconds=math.ceil(rule.retry_after))
        headers["Retry-After"] = format_datetime(when, usegmt=True)
    elif rule.retry_after is not None:
        # Real Graph sends whole seconds; the quirk switch sends e.g. "1.5" (§6, fractional Retry-After).
        headers["Retry-After"] = str(rule.retry_after) if fractional_retry_after else str(max(1, math.ceil(rule.retry_after)))
    return GraphError(rule.status, code, message, headers=headers)
