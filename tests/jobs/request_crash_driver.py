"""The process the request crash test kills: one RequestRunner.run_queued() in the service's own
wiring, SIGKILLing itself at a chosen point.

    python request_crash_driver.py SETTINGS_JSON MODE N
    MODE `call`: at its Nth Graph answer (Graph acted, nothing recorded yet);
         `step`: just before its Nth step record (a request-run step or an anonymisation step)
    exits 0 when the run got to its end first
"""
from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from bookings_ledger.wiring import opened_ledger
from config import load_settings
from config.retention import load_policy
from connector import GraphConnector, RetryPolicy, StaticCredential
from jobs.anonymise.journal import Journal
from jobs.requests.runner import RequestRunner
from jobs.requests.steps import RunSteps

FAST = RetryPolicy(max_attempts=4, max_total=10.0, backoff_base=0.05, backoff_max=0.2, jitter=0.05)


def _countdown(n: int) -> Callable[..., None]:
    left = [n]

    def tick(*_: object) -> None:
        left[0] -= 1
        if left[0] == 0:
            os.kill(os.getpid(), signal.SIGKILL)

    return tick


def _killing_before(tick: Callable[..., None], record: Callable[..., Any]) -> Callable[..., Any]:
    def killing(self: Any, *args: Any, **kwargs: Any) -> Any:
        tick()
        return record(self, *args, **kwargs)
    return killing


def main() -> None:
    overrides, mode, n = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    settings = load_settings(overrides)
    tick = _countdown(n)
    if mode == "step":
        RunSteps._write = _killing_before(tick, RunSteps._write)  # type: ignore[method-assign]
        for name in ("sending", "finish"):
            setattr(Journal, name, _killing_before(tick, getattr(Journal, name)))
    with opened_ledger(settings) as ledger, GraphConnector(base_url=settings.GRAPH_BASE_URL, credential=StaticCredential(),
                                                           policy=FAST, observe=tick if mode == "call" else None) as graph:
        policy = load_policy(settings.RETENTION_POLICY_FILE)
        while any(report.state == "running" for report in RequestRunner(ledger, graph, policy, settings,
                                                                        ledger.clock).run_queued()):
            pass


if __name__ == "__main__":
    main()
