"""Persisting steps: `sending` committed before a write leaves, `done` with its evidence after.

Each call is one ledger transaction for a whole batch of operations (a transaction per record
would cost more than the Graph call it records), and never spans a Graph call: on SQLite the
write lock is held only while rows are written. A step's `anonymised` entry is appended in the
transaction that marks it done, so the chain and the step table never disagree.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connector import ItemResult
from jobs.anonymise.context import Work
from ledger.transactions import Ledger, LedgerTransaction
from state import anonymisation
from state.anonymisation import Step


def evidence_of(item: ItemResult[Any]) -> dict[str, Any]:
    """Graph's answer as evidence: its request id and HTTP status (never its body)."""
    return {"request_id": item.request_id, "status": item.status}


@dataclass(frozen=True)
class Outcome:
    """How a step ended for one operation: its state, evidence, and the entry to append if any."""

    work: Work
    step: str
    state: str
    evidence: Mapping[str, Any]
    entry: Mapping[str, Any] | None = None     # details of an `anonymised` entry
    then: Callable[[LedgerTransaction], None] | None = None   # working-state changes in the same transaction


class Journal:
    """Writes step states for the executor."""

    def __init__(self, ledger: Ledger, clock: Callable[[], datetime]) -> None:
        self.ledger, self.clock = ledger, clock

    def sending(self, works: Iterable[Work], step: str, plans: Mapping[str, Mapping[str, Any]]) -> None:
        """Mark the step `sending` for each operation (its planned action in the evidence), and the
        operation `running`; committed before any of the writes is sent."""
        works = list(works)
        if not works:
            return
        now = self.clock()
        with self.ledger.transaction() as tx:
            for work in works:
                anonymisation.record_step(tx.session, work.op.id, step, "sending", now, revision=work.op.revision,
                                          evidence=plans.get(work.op.id, {}))
                anonymisation.set_state(tx.session, work.op.id, "running", now)
        for work in works:
            previous = work.steps.get(step)
            work.steps[step] = Step(step, "sending", (previous.attempts if previous else 0) + 1, work.op.revision,
                                    dict(plans.get(work.op.id, {})))

    def finish(self, outcomes: Iterable[Outcome]) -> None:
        """Record each outcome (with its entry and working-state changes) in one transaction."""
        outcomes = list(outcomes)
        if not outcomes:
            return
        now = self.clock()
        with self.ledger.transaction() as tx:
            for o in outcomes:
                anonymisation.record_step(tx.session, o.work.op.id, o.step, o.state, now, revision=o.work.op.revision,
                                          evidence=o.evidence)
                if o.entry is not None:
                    details = {k: v for k, v in o.entry.items() if k != "event"}
                    tx.append("anonymised", subject=o.work.op.subject_ref, refs=_refs(o.work, o.entry),
                              business=o.work.op.business_id, operation=o.work.op.id, **details)
                if o.then is not None:
                    o.then(tx)
                if o.state == "failed":
                    anonymisation.set_state(tx.session, o.work.op.id, "failed", now, detail=f"step {o.step} failed")
        for o in outcomes:
            previous = o.work.steps.get(o.step)
            o.work.steps[o.step] = Step(o.step, o.state, previous.attempts if previous else 0, o.work.op.revision,
                                        dict(o.evidence))
            o.work.progressed = True

    def set_state(self, works: Iterable[Work], state: str, *, detail: str | None = None) -> None:
        """Move the operations to `state` (held, running, failed …)."""
        works = list(works)
        if not works:
            return
        now = self.clock()
        with self.ledger.transaction() as tx:
            for work in works:
                anonymisation.set_state(tx.session, work.op.id, state, now, detail=detail)


def _refs(work: Work, entry: Mapping[str, Any]) -> dict[str, str]:
    refs = {work.op.object_type: work.op.object_id}
    if entry.get("event"):
        refs["event"] = str(entry["event"])
    return refs
