"""The process the kill tests SIGKILL: one `RequestMailer.run()` over the service's settings, killed
by itself right after Graph answered the Nth call matching a route, i.e. after Graph acted and
before the sender recorded it.

    python request_mail_driver.py SETTINGS_JSON "POST /users/{id}/messages" N
"""
from __future__ import annotations

import json
import os
import signal
import sys

from bookings_ledger.wiring import opened_ledger
from config import load_settings
from connector import GraphConnector, RetryPolicy, StaticCredential
from jobs.request_mail import RequestMailer

FAST = RetryPolicy(max_attempts=4, max_total=10.0, backoff_base=0.05, backoff_max=0.2, jitter=0.05)


def main() -> None:
    settings = load_settings(json.loads(sys.argv[1]))
    method, route = sys.argv[2].split(" ", 1)
    left = [int(sys.argv[3])]

    def observe(called: str, template: str, status: str) -> None:
        if called == method and template == route and status == "2xx":
            left[0] -= 1
            if left[0] == 0:
                os.kill(os.getpid(), signal.SIGKILL)

    with opened_ledger(settings) as ledger, GraphConnector(base_url=settings.GRAPH_BASE_URL, credential=StaticCredential(),
                                                           policy=FAST, observe=observe) as graph:
        RequestMailer(ledger, graph, settings).run()


if __name__ == "__main__":
    main()
