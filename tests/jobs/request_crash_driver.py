"""The process the request crash test kills: one RequestRunner.run_queued() in the service's own
wiring, SIGKILLing itself at a chosen point.

    python request_crash_driver.py SETTINGS_JSON MODE N
    MODE `call`: at its Nth Graph answer (Graph acted, nothing recorded yet);
         `step`: just before its Nth step record (a request-run step or an anonymisation step)
    exits 0 when the run got to its end first
"""
from __future__ import annotations

import json
import sys

from bookings_ledger.wiring import opened_ledger
from config import load_settings
from config.retention import load_policy
from connector import GraphConnector, StaticCredential
from crash_points import FAST, countdown, killing_before
from jobs.anonymise.journal import Journal
from jobs.requests.runner import RequestRunner
from jobs.requests.steps import RunSteps





def main() -> None:
    overrides, mode, n = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    settings = load_settings(overrides)
    tick = countdown(n)
    if mode == "step":
        RunSteps._write = killing_before(tick, RunSteps._write)  # type: ignore[method-assign]
        for name in ("sending", "finish"):
            setattr(Journal, name, killing_before(tick, getattr(Journal, name)))
    with opened_ledger(settings) as ledger, GraphConnector(base_url=settings.GRAPH_BASE_URL, credential=StaticCredential(),
                                                           policy=FAST, observe=tick if mode == "call" else None) as graph:
        policy = load_policy(settings.RETENTION_POLICY_FILE)
        while any(report.state == "running" for report in RequestRunner(ledger, graph, policy, settings,
                                                                        ledger.clock).run_queued()):
            pass


if __name__ == "__main__":
    main()
