"""Outlook's per-mailbox service limits (graph-facts §3): per app and mailbox, at most 4 concurrent
requests and 10,000 requests per 10 minutes; a request over either limit gets 429 with Retry-After.

Bookings routes of a business and ``/users/{mailbox}/…`` count for the same mailbox (Bookings data
lives in that Exchange mailbox; an inference in §3). The window runs on the emulator's clock.
Peak in-flight counts let tests prove a client never sent more than the limit at once.
"""

from __future__ import annotations

import threading
from collections import deque

from .errors import GraphError
from .options import Options


class MailboxLimits:
    """In-flight and windowed request counts per mailbox."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._peak: dict[str, int] = {}
        self._recent: dict[str, deque[float]] = {}

    def enter(self, mailbox: str, now: float) -> None:
        """Take a slot for one request, or raise Graph's 429 (the slot is then not taken)."""
        options = self.options
        with self._lock:
            recent = self._recent.setdefault(mailbox, deque())
            while recent and recent[0] <= now - options.mailbox_window_s:
                recent.popleft()
            if options.mailbox_limits and self._in_flight.get(mailbox, 0) >= options.mailbox_concurrency:
                raise _throttled("MailboxConcurrency", 1)
            if options.mailbox_limits and len(recent) >= options.mailbox_requests_per_window:
                raise _throttled("MailboxRequests", max(1, round(recent[0] + options.mailbox_window_s - now)))
            recent.append(now)
            self._in_flight[mailbox] = self._in_flight.get(mailbox, 0) + 1
            self._peak[mailbox] = max(self._peak.get(mailbox, 0), self._in_flight[mailbox])

    def leave(self, mailbox: str) -> None:
        """Give the slot back."""
        with self._lock:
            self._in_flight[mailbox] -= 1

    def report(self) -> dict[str, dict[str, int]]:
        """Per mailbox: requests in flight now, peak in flight, requests in the current window."""
        with self._lock:
            return {m: {"inFlight": self._in_flight.get(m, 0), "peakInFlight": self._peak.get(m, 0),
                        "inWindow": len(self._recent.get(m, ()))} for m in self._recent}

    def reset(self) -> None:
        """Forget peaks and windows (requests in flight keep their slots)."""
        with self._lock:
            self._peak = dict(self._in_flight)
            self._recent = {m: deque() for m in self._in_flight}


def _throttled(limit: str, retry_after: int) -> GraphError:
    return GraphError(429, "ApplicationThrottled", f"Application is over its {limit} limit.",
                      headers={"Retry-After": str(retry_after)})
