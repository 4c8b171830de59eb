"""Test helpers: a tiny notification endpoint (handshake + recording) and request shortcuts."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx

# Graph's timings shrunk so delivery, retry and expiry tests finish in seconds.
FAST = {"validation_timeout_s": 2.0, "delivery_timeout_s": 1.0, "slow_threshold_s": 0.3, "retry_initial_s": 0.1,
        "retry_max_s": 0.5, "batch_window_s": 0.02, "reorder_delay_s": 0.3}


class Receiver:
    """Listens on 127.0.0.1; ``handshake`` is echo | forbidden | wrong | encoded | slow; ``status``/``delay`` shape notification answers."""

    def __init__(self) -> None:
        self.handshake = "echo"
        self.handshake_delay = 0.0
        self.status = 202
        self.delay = 0.0
        self.fail_first = 0  # answer 500 to this many notification POSTs first
        self.validations: list[dict] = []
        self.posts: list[dict] = []
        self._lock = threading.RLock()  # predicates of wait_for read under the same lock
        self._cond = threading.Condition(self._lock)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/hook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def notifications(self, *, kind: str = "changeType") -> list[dict]:
        """Every received item that carries ``kind`` (changeType or lifecycleEvent)."""
        with self._lock:
            return [item for post in self.posts for item in post["value"] if kind in item]

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        """Wait (bounded) until ``predicate(self)`` is true."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def _handler_class(self) -> type:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                query = urlsplit(self.path).query
                if "validationToken=" in query:
                    self._validation(query, body)
                else:
                    self._notification(body)

            def _validation(self, query: str, body: bytes) -> None:
                token = parse_qs(query)["validationToken"][0]
                with receiver._cond:
                    receiver.validations.append({"token": token, "contentType": self.headers.get("Content-Type"), "body": body})
                    receiver._cond.notify_all()
                time.sleep(receiver.handshake_delay)
                if receiver.handshake == "forbidden":
                    return self._answer(403, b"denied", "text/plain")
                answer = {"echo": token, "wrong": "not-the-token", "encoded": query.split("validationToken=")[1]}.get(receiver.handshake, token)
                self._answer(200, answer.encode(), "text/plain; charset=utf-8")

            def _notification(self, body: bytes) -> None:
                time.sleep(receiver.delay)
                with receiver._cond:
                    failing = receiver.fail_first > 0
                    receiver.fail_first -= failing
                    if not failing:
                        receiver.posts.append(json.loads(body))
                    receiver._cond.notify_all()
                self._answer(500 if failing else receiver.status, b"", "text/plain")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (ConnectionError, TimeoutError):
                    pass  # the emulator gave up waiting (timeout tests)

        return Handler


def subscribe(client: httpx.Client, mailbox: str, url: str, *, lifecycle: str | None = None, **extra: object) -> httpx.Response:
    """POST /subscriptions on a mailbox's events."""
    body = {"changeType": "created,updated,deleted", "notificationUrl": url, "resource": f"users/{mailbox}/events",
            "expirationDateTime": (datetime.now(timezone.utc) + timedelta(minutes=4000)).isoformat(), "clientState": "s3cret", **extra}
    if lifecycle:
        body["lifecycleNotificationUrl"] = lifecycle
    return client.post("/subscriptions", json=body)


def new_appointment(client: httpx.Client, business: str, start: str = "2030-01-07T10:00:00", minutes: int = 30, **extra: object) -> dict:
    """Create a simple appointment with one new customer; returns the created appointment."""
    hour, minute = divmod(int(start[11:13]) * 60 + int(start[14:16]) + minutes, 60)
    body = {"startDateTime": {"dateTime": start, "timeZone": "UTC"},
            "endDateTime": {"dateTime": f"{start[:11]}{hour:02d}:{minute:02d}:00", "timeZone": "UTC"},
            "customers": [{"name": "Ada Lovelace", "emailAddress": "ada@example.com", "phone": "+44 20 7946 0000", "notes": "first visit"}],
            **extra}
    response = client.post(f"/solutions/bookingBusinesses/{business}/appointments", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def eventually(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout`` passes (bounded wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
