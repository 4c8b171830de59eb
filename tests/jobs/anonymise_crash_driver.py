"""The process the crash test kills: a zygote that imports the service once, then forks one
anonymiser process per command line on stdin and reports how it ended.

    python anonymise_crash_driver.py SETTINGS_JSON
    stdin:  "<mode> <n>" per run: `call N` (SIGKILL itself at its Nth Graph answer, i.e. after Graph
            acted and before the step is recorded), `step N` (at its Nth step record), `none`
            (run to the end; the test may SIGKILL it by pid at a random moment)
    stdout: "pid <pid>" when a run starts, "exit <code or -signal>" when it ends

Forking a process that has only imported (no thread, no connection yet) is safe and takes
milliseconds, where a fresh interpreter spends seconds importing msgraph: that is what lets the
CI form kill a real anonymiser process 50 times in well under a minute. Each forked run is the
service's own wiring: `opened_ledger` (which finishes interrupted erasures) and a connector,
then `Anonymiser.run(limit=...)` until no operation is open.
"""
from __future__ import annotations

import json
import os
import sys
import traceback

import msgraph  # noqa: F401  (imported before forking: the forked runs find it loaded)

from bookings_ledger.wiring import opened_ledger
from config import load_settings
from config.retention import load_policy
from connector import GraphConnector, StaticCredential
from crash_points import FAST, countdown, killing_before
from jobs.anonymise import Anonymiser
from jobs.anonymise.journal import Journal
from state import anonymisation

LIMIT = 3   # operations per run() call: small, so a run is killed with work left to resume




def _anonymise(overrides: dict[str, str], mode: str, n: int) -> None:
    settings = load_settings(overrides)
    policy = load_policy(settings.RETENTION_POLICY_FILE)
    tick = countdown(n) if mode in ("call", "step") else None
    if mode == "step":
        for name in ("sending", "finish"):
            setattr(Journal, name, killing_before(tick, getattr(Journal, name)))  # type: ignore[arg-type]
    observe = tick if mode == "call" else None
    with opened_ledger(settings) as ledger, GraphConnector(base_url=settings.GRAPH_BASE_URL, credential=StaticCredential(),
                                                           policy=FAST, observe=observe) as graph:
        anonymiser = Anonymiser(ledger, graph, policy, ledger.clock)
        while True:
            anonymiser.run(limit=LIMIT)
            with ledger.transaction() as tx:
                if not [o for o in anonymisation.open_operations(tx.session) if o.state != "held"]:
                    return


def main() -> None:
    overrides = json.loads(sys.argv[1])
    for line in sys.stdin:
        mode, _, count = line.strip().partition(" ")
        pid = os.fork()
        if pid == 0:
            try:
                _anonymise(overrides, mode, int(count or 0))
            except BaseException:
                traceback.print_exc()
                os._exit(3)
            os._exit(0)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(f"exit {code}", flush=True)


if __name__ == "__main__":
    main()
