"""The control API's view of traffic: counts by route, and the last requests with selected headers."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Mapping

# Headers a test may need to see (e.g. that Prefer: IdType="ImmutableId" went only with a
# subscription create); Authorization is logged only as present or absent.
LOGGED_HEADERS = ("Prefer", "Content-Type", "client-request-id")


class RequestCounter:
    """Requests counted by "METHOD route status" (route = the URL rule, ids left as placeholders)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, method: str, route: str, status: int) -> None:
        """Count one answered request."""
        with self._lock:
            self._counts[f"{method} {route} {status}"] += 1

    def snapshot(self) -> dict[str, int]:
        """Current counts."""
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        """Zero all counts."""
        with self._lock:
            self._counts.clear()


class RequestLog:
    """The last ``size`` requests: method, path, status and selected headers, oldest first."""

    def __init__(self, size: int) -> None:
        self._entries: deque[dict] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, method: str, path: str, status: int, headers: Mapping[str, str]) -> None:
        """Log one answered request."""
        entry = {"method": method, "path": path, "status": status, "authorization": "Authorization" in headers,
                 "headers": {name: headers[name] for name in LOGGED_HEADERS if name in headers}}
        with self._lock:
            self._entries.append(entry)

    def listed(self) -> list[dict]:
        """The logged requests."""
        with self._lock:
            return list(self._entries)

    def reset(self, size: int) -> None:
        """Empty the log (and apply a new size)."""
        with self._lock:
            self._entries = deque(maxlen=size)
