"""Requests for the runner's tests: received and verified through ledger/requests.py, queued
through state/request_runs.py, run by the real RequestRunner against the emulator over HTTP.

The certificate itself is ledger/certificates.py's (tests/e2e issue and verify real
ones): here `certificates` records what the runner hands it, so a test checks the facts.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from anonymise_fixtures import Bookings
from config import load_settings
from jobs.requests import handover
from jobs.requests.runner import RequestRunner
from ledger import requests
from ledger.requests import Intake, RequestRules
from state import request_runs


class Certificates:
    """What the runner handed to the certificate issuer, per request."""

    def __init__(self) -> None:
        self.issued: dict[str, Any] = {}

    def __call__(self, ledger: Any, settings: Any, request_id: str, facts: Any) -> str:
        assert request_id not in self.issued, "a certificate is issued once per request"
        self.issued[request_id] = facts
        return f"cert-{request_id}"


def record_certificates(monkeypatch: pytest.MonkeyPatch) -> Certificates:
    """Replace the certificate issuer by a recorder for one test (the `certificates` fixture)."""
    issued = Certificates()
    monkeypatch.setattr(handover, "certify", issued)
    return issued


def settings_of(service: Any) -> Any:
    return load_settings(service.settings)


def runner(bookings: Bookings, service: Any, policy: Any) -> RequestRunner:
    return RequestRunner(bookings.ledger, bookings.graph, policy, settings_of(service), bookings.ledger.clock)


def verified_request(bookings: Bookings, service: Any, request_type: str, *, email: str | None = None,
                     phone: str | None = None, corrections: Mapping[str, str] | None = None,
                     choices: Mapping[str, str] | None = None) -> str:
    """A request received, verified by the officer on one data point, and queued; its id."""
    rules = RequestRules.from_settings(settings_of(service))
    with bookings.ledger.transaction() as tx:
        request = requests.receive(tx, Intake(request_type, "cli", email=email, phone=phone,
                                              corrections=dict(corrections or {})), rules)
        if request.state == "awaiting-verification":
            requests.verify(tx, request.request_id, method="officer", data_points=["email", "phone"][:1 if email else 2],
                            by="officer")
        request_runs.queue_run(tx.session, request.request_id, by="officer", now=bookings.ledger.clock(),
                               choices=choices)
        return request.request_id
