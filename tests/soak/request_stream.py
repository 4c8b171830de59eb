"""The soak's stream of data-subject requests, filed, verified and started as an officer would.

Over the simulated days it files requests of every type (ledger.requests.REQUEST_TYPES, in turn)
under the regimes given (in turn), each for a different customer that exists in the emulator's
booking businesses at that moment, through the service's API (docs/api.md):

    POST /api/v1/requests                      {type, regime, email, corrections?}   (channel `api`)
    POST /api/v1/requests/{id}/verification    the officer matched email, phone and name and has a
                                               signed declaration: the highest degree, which every
                                               type and regime accepts (a child's erasure is the
                                               officer's to verify anyway); skipped when the request
                                               needs none (an opt-out)
    POST /api/v1/requests/{id}/run             queued; the scheduler's `requests` job carries it out

The API has everything this needs, so no `bookings-ledger request` command is used. An erasure's
future appointments are kept (the run's default choice): cancelling them would have Bookings mail
the customer, which the soak's last check forbids to anything but the request mail.

Each step does what is due by the simulated time it is given; a call the API does not answer (the
web process killed and restarting) is tried again at the next step, from where it stopped, so no
request is filed twice. Deterministic from the seed: which customer, which type, when.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from ledger.requests import REQUEST_TYPES

PER_DAY = 3   # a few a simulated day: every type within three days, and the run stays inside its budget
OFFICER_CHECK = {"method": "officer", "data_points": ["email", "name", "phone"], "declaration": True}
AWAITING = "awaiting-verification"


class Unavailable(Exception):
    """The API answered 5xx: the web process is starting or stopping; the call is tried again."""


@dataclass
class Filed:
    """One request of the stream and how far the officer got with it."""

    request_type: str
    regime: str
    customer_id: str          # the emulator's id, never an address
    request_id: str | None = None
    verified: bool = False
    queued: bool = False
    refused_run: str | None = None   # the API's 409 reason (ids and states only), when it would not queue it
    corrections: dict[str, str] = field(default_factory=dict)


class RequestStream:
    """Files `per_day` requests a simulated day until `stop_filing`, and takes each through to its run."""

    def __init__(self, web_url: str, api_token: str, emulator_url: str, *, seed: int,
                 regimes: tuple[str, ...] = ("gdpr", "ccpa"), per_day: int = PER_DAY) -> None:
        self.api = httpx.Client(base_url=f"{web_url}/api/v1", headers={"Authorization": f"Bearer {api_token}"}, timeout=30)
        self.emulator = httpx.Client(base_url=f"{emulator_url}/_emulator", timeout=60)
        self.rng = random.Random(seed)
        self.regimes = regimes
        self.every = timedelta(days=1) / per_day
        self.filed: list[Filed] = []
        self.used: set[str] = set()        # customers already asked for: a second request would be a duplicate
        self.next_at: datetime | None = None
        self.filing = True

    def step(self, sim_now: datetime) -> None:
        """File what is due by `sim_now`, then move every filed request on as far as the API allows."""
        if self.next_at is None:
            self.next_at = sim_now + self._jitter()
        while self.filing and sim_now >= self.next_at:
            self._plan_next()
            self.next_at += self.every + self._jitter()
        for filed in self.filed:
            try:
                self._advance(filed)
            except (httpx.TransportError, Unavailable):
                return   # the web process is down or restarting: the next step goes on from here

    def stop_filing(self) -> None:
        """No new requests from now on; those filed are still taken to their runs."""
        self.filing = False

    def close(self) -> None:
        self.api.close()
        self.emulator.close()

    def summary(self) -> dict[str, Any]:
        """Counts by type and how far they got (ids only)."""
        return {"filed": len(self.filed), "created": sum(f.request_id is not None for f in self.filed),
                "queued": sum(f.queued for f in self.filed),
                "by_type": {t: sum(f.request_type == t for f in self.filed) for t in REQUEST_TYPES},
                "not_queued": {f.request_id: f.refused_run for f in self.filed if f.refused_run}}

    def _jitter(self) -> timedelta:
        return self.every * self.rng.uniform(-0.25, 0.25)

    def _plan_next(self) -> None:
        """Choose the next type, regime and customer; filed at once by `step`."""
        number = len(self.filed)
        request_type = REQUEST_TYPES[number % len(REQUEST_TYPES)]
        regime = self.regimes[(number // len(REQUEST_TYPES)) % len(self.regimes)]
        customers = self._customers()
        if not customers:
            return
        customer_id, _email = customers[self.rng.randrange(len(customers))]
        self.used.add(customer_id)
        corrections = {"name": f"Rectified Person {self.rng.randrange(10_000, 99_999)}"} if request_type == "rectification" else {}
        self.filed.append(Filed(request_type, regime, customer_id, corrections=corrections))

    def _customers(self) -> list[tuple[str, str]]:
        """(id, email) of every customer Graph holds now and the stream has not asked for, in a fixed order."""
        state = self.emulator.get("/state", params={"appointments": "false"})
        state.raise_for_status()
        found = {(c["id"], c["emailAddress"]) for b in state.json()["businesses"] for c in b["customers"]
                 if c.get("emailAddress") and c["id"] not in self.used}
        return sorted(found)

    def _email_of(self, customer_id: str) -> str | None:
        state = self.emulator.get("/state", params={"appointments": "false"})
        state.raise_for_status()
        return next((c["emailAddress"] for b in state.json()["businesses"] for c in b["customers"] if c["id"] == customer_id), None)

    def _advance(self, filed: Filed) -> None:
        if filed.request_id is None:
            email = self._email_of(filed.customer_id)
            if email is None:
                return   # erased by an earlier request before this one was filed: nothing to ask about
            body: dict[str, Any] = {"type": filed.request_type, "regime": filed.regime, "email": email}
            if filed.corrections:
                body["corrections"] = filed.corrections
            created = self._call("POST", "/requests", body, 201)
            filed.request_id = created["request_id"]
            filed.verified = created["state"] != AWAITING
        if not filed.verified:
            self._call("POST", f"/requests/{filed.request_id}/verification", OFFICER_CHECK, 200)
            filed.verified = True
        if not filed.queued and filed.refused_run is None:
            response = self.api.post(f"/requests/{filed.request_id}/run", json={})
            if response.status_code == 409:
                filed.refused_run = response.json().get("detail")
                return
            _expect(response, 202)
            filed.queued = True

    def _call(self, method: str, path: str, body: dict[str, Any], status: int) -> dict[str, Any]:
        response = self.api.request(method, path, json=body)
        _expect(response, status)
        return response.json()


def _expect(response: httpx.Response, status: int) -> None:
    """The API answered as documented, or an error naming the call and the problem's title (never a value sent)."""
    if response.status_code >= 500:
        raise Unavailable(response.status_code)
    if response.status_code != status:
        problem = response.json() if response.headers.get("content-type", "").endswith("json") else {}
        raise AssertionError(f"{response.request.method} {response.request.url.path}: {response.status_code} "
                             f"{problem.get('title', '')} {problem.get('detail', '')}".strip())
