"""Every customer name, email address and phone number Graph held at any moment of a soak run.

The harness calls `sample` every simulated hour or so: a value an erasure (or a rectification)
removed mid-run is gone from Graph by the end, yet a log line written before may still carry it,
so the log scan (checks.py) looks for everything ever sampled, not only what Graph holds last.

    personal = PersonalValues()
    personal.sample(run.emulator_url)      # GET /_emulator/state: customers and appointments
    personal.values()                      # names, emails, phones (as written and in E.164), streets, notes
"""
from __future__ import annotations

import httpx

from personal_data_scan import personal_values


class PersonalValues:
    """The union of the personal values of every state sampled."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self.samples = 0

    def sample(self, emulator_url: str) -> None:
        """Add what Graph holds now (the emulator's whole state, cancelled appointments included)."""
        response = httpx.get(f"{emulator_url}/_emulator/state", timeout=120)
        response.raise_for_status()
        self._values |= personal_values(response.json())
        self.samples += 1

    def values(self) -> set[str]:
        """Every value sampled so far."""
        return set(self._values)
