"""A minimal stand-in for the soakchecks helper's modules (personal_values, request_stream, checks),
used only until that branch is merged; it files no requests and checks only the logs and the lag."""
from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from datetime import datetime


class PersonalValues:
    def __init__(self) -> None:
        self._values: set[str] = set()

    def sample(self, emulator_url: str) -> None:
        with urllib.request.urlopen(f"{emulator_url}/_emulator/state", timeout=60) as answer:
            state = json.loads(answer.read())
        for business in state.get("businesses", []):
            for customer in business.get("customers", []):
                self._values.update(v for v in (customer.get("displayName"), customer.get("emailAddress")) if v)

    def values(self) -> set[str]:
        return set(self._values)


class RequestStream:
    def __init__(self, web_url: str, api_token: str, emulator_url: str, *, seed: int, regimes: tuple[str, ...]) -> None:
        self.filed = 0

    def step(self, sim_now: datetime) -> None:
        pass

    def stop_filing(self) -> None:
        pass


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str


def run_checks(run, personal: PersonalValues) -> list[CheckResult]:
    values = [v for v in personal.values() if len(v) >= 6]
    leaks = sum(1 for log in run.log_dir.glob("*.log") for line in log.read_text(errors="replace").splitlines()
                if any(v in line for v in values))
    lag = max((s for _, s in run.watermark_samples), default=0.0)
    return [CheckResult("no personal data in any log line", leaks == 0, f"{leaks} lines"),
            CheckResult("watermark never more than minutes behind", lag <= 3600, f"max {lag:.0f} s")]


def print_report(results: list[CheckResult]) -> None:
    for result in results:
        print(f"{'PASS' if result.passed else 'FAIL'}  {result.name}: {result.detail}")
