"""Fixtures: a Graph emulator over real loopback HTTP, its control API, and connectors to it.

Retry budgets are small and the emulator sends fractional Retry-After values (0.2–0.5 s), so
throttling and outage tests take seconds, not minutes.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from connector import GraphConnector, RetryPolicy, StaticCredential
from emulator import EmulatorServer

FAST = RetryPolicy(max_attempts=6, max_total=5.0, backoff_base=0.05, backoff_max=0.2, jitter=0.05)


class Control:
    """The emulator's control API under /_emulator/, plus its request counters."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self._http = httpx.Client(base_url=server.base_url + "/_emulator", timeout=30)

    def close(self) -> None:
        self._http.close()

    def _json(self, response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json() if response.content else None

    def seed(self, *, businesses: int = 1, appointments: int = 50, customers: int = 20, seed: int = 7) -> list[str]:
        """Seed the tenant; the business ids."""
        return self._json(self._http.post("/seed", json={
            "seed": seed, "businesses": businesses, "appointmentsPerBusiness": appointments,
            "customersPerBusiness": customers,
        }))["businesses"]

    def options(self, **changes: Any) -> dict[str, Any]:
        return self._json(self._http.post("/options", json=changes))

    def mailbox_settings(self, user: str, **settings: Any) -> dict[str, Any]:
        """Set a mailbox's settings (e.g. timeZone); all of them."""
        return self._json(self._http.post(f"/mailboxes/{user}/settings", json=settings))

    def faults(self, *rules: dict[str, Any]) -> None:
        """Replace the fault rules (emulator.faults.RequestFault fields)."""
        self._json(self._http.post("/faults", json={"requests": list(rules)}))

    def counts(self) -> dict[str, int]:
        """Requests answered, keyed "METHOD route status"."""
        return self._json(self._http.get("/requests"))

    def count(self, method: str, route_part: str, status: int | None = None) -> int:
        """How many `method` requests whose route ends with `route_part` were answered (with `status`)."""
        total = 0
        for key, n in self.counts().items():
            verb, route, code = key.split(" ")
            if verb == method and route.endswith(route_part) and (status is None or int(code) == status):
                total += n
        return total

    def reset_counts(self) -> None:
        self._json(self._http.delete("/requests"))

    def state(self) -> dict[str, Any]:
        return self._json(self._http.get("/state"))

    def business_state(self, business_id: str) -> dict[str, Any]:
        return next(b for b in self.state()["businesses"] if b["business"]["id"] == business_id)


@pytest.fixture(scope="session")
def _server() -> Iterator[tuple[EmulatorServer, dict[str, Any]]]:
    # One server for the session (stopping one takes half a second); each test resets it.
    with EmulatorServer(port=0, seed=11, quirk_fractional_retry_after=True) as server:
        yield server, server.emulator.options.as_dict()


@pytest.fixture
def emulator(_server: tuple[EmulatorServer, dict[str, Any]]) -> EmulatorServer:
    """An empty emulator on a loopback port: no data, faults or counts, options as at start."""
    server, options = _server
    with httpx.Client(base_url=server.base_url + "/_emulator") as http:
        http.post("/reset").raise_for_status()
        http.post("/options", json=options).raise_for_status()
    return server


@pytest.fixture
def control(emulator: EmulatorServer) -> Iterator[Control]:
    """The control API of the emulator under test."""
    ctl = Control(emulator)
    yield ctl
    ctl.close()


@pytest.fixture
def business(control: Control) -> str:
    """One seeded business with 50 appointments and 20 customers."""
    return control.seed()[0]


@pytest.fixture
def make_connector(emulator: EmulatorServer) -> Iterator[Callable[..., GraphConnector]]:
    """Connectors to the emulator (closed at the end); keyword arguments go to GraphConnector."""
    opened: list[GraphConnector] = []

    def make(**kwargs: Any) -> GraphConnector:
        kwargs.setdefault("policy", FAST)
        kwargs.setdefault("credential", StaticCredential())
        connector = GraphConnector(base_url=emulator.graph_url, **kwargs)
        opened.append(connector)
        return connector

    yield make
    for connector in opened:
        connector.close()


@pytest.fixture
def fast_policy() -> RetryPolicy:
    """The retry policy of these tests: small waits, a five-second budget."""
    return FAST


@pytest.fixture
def graph(make_connector: Callable[..., GraphConnector]) -> GraphConnector:
    """A connector to the emulator with the fast test retry policy."""
    return make_connector()


class _Handshake(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        token = parse_qs(urlsplit(self.path).query).get("validationToken", [""])[0]
        body = token.encode() if token else b""
        self.send_response(200 if token else 202)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass


@pytest.fixture
def webhook_url() -> Iterator[str]:
    """A loopback endpoint that passes Graph's validation handshake and accepts notifications."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handshake)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/webhooks/graph"
    server.shutdown()
    server.server_close()
    thread.join(5)
