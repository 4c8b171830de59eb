"""The control API's view of traffic: counts by route, the last requests with selected headers,
and every write request per object it wrote (appointment, customer, event …), so a test can
prove each record was handled exactly once in Graph. Requests inside a ``$batch`` are logged
one by one, flagged ``batched``."""

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

    def add(self, method: str, path: str, status: int, headers: Mapping[str, str], *, batched: bool = False) -> None:
        """Log one answered request."""
        entry = {"method": method, "path": path, "status": status, "authorization": "Authorization" in headers,
                 "headers": {name: headers[name] for name in LOGGED_HEADERS if name in headers}, "batched": batched}
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


# The environ key batch.py sets on each request it runs inside a $batch.
BATCHED = "emulator.batched"
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


class ObjectLog:
    """Write requests keyed by the id of the object they wrote; at most ``size`` entries in all."""

    def __init__(self, size: int) -> None:
        self._by_object: dict[str, list[dict]] = {}
        self._order: deque[str] = deque()  # object id of each entry, oldest first, to drop the oldest
        self._size = size
        self._lock = threading.Lock()

    def add(self, object_id: str, entry: dict) -> None:
        """Log one write request (method, path, status, time, batched, kind, business/mailbox)."""
        with self._lock:
            self._by_object.setdefault(object_id, []).append(entry)
            self._order.append(object_id)
            while len(self._order) > self._size:
                oldest = self._order.popleft()
                entries = self._by_object[oldest]
                entries.pop(0)
                if not entries:
                    del self._by_object[oldest]

    def listed(self, object_id: str | None = None) -> dict[str, list[dict]]:
        """Entries per object id (one object's, when given)."""
        with self._lock:
            return {key: list(entries) for key, entries in self._by_object.items() if object_id in (None, key)}

    def reset(self, size: int) -> None:
        """Empty the log (and apply a new size)."""
        with self._lock:
            self._by_object.clear()
            self._order.clear()
            self._size = size
