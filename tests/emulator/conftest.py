"""Fixtures: a running emulator with short timings, an authorised HTTP client, a receiver."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from emulator import EmulatorServer

from emulator_helpers import FAST, Receiver


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(seed=42, **FAST) as running:
        yield running


@pytest.fixture
def client(server: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.graph_url, headers={"Authorization": "Bearer test-token"}, timeout=10) as http:
        yield http


@pytest.fixture
def control(server: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url + "/_emulator", timeout=30) as http:
        yield http


@pytest.fixture
def business(control: httpx.Client) -> str:
    """One seeded business (few appointments) and its id."""
    return control.post("/seed", json={"seed": 1, "businesses": 1, "appointmentsPerBusiness": 30, "customersPerBusiness": 10}).json()["businesses"][0]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running
