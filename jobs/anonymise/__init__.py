"""Anonymisation of expired records through Graph, with evidence (docs/anonymisation.md).

    Anonymiser(ledger, connector, policy, clock).run(limit=None) -> counts
    Anonymiser(...).plan_dry_run() -> [what each open operation would do]

One module per job: `context` (what an operation knows), `strategies` (the PATCH bodies),
`surfaces` (what of a person a surface holds), `appointments`, `events`, `customers` (the Graph
writes of each surface), `readback` (verification), `keys` (key destruction), `journal` (the
persisted steps), `executor` (rounds, batching, holds).
"""
from jobs.anonymise.executor import Anonymiser

__all__ = ["Anonymiser"]
