"""Persisting steps: `sending` committed before a write leaves, `done` with its evidence after.

Each call is one ledger transaction for a whole batch of operations (a transaction per record
would cost more than the Graph call it records), and never spans a Graph call: on SQLite the
write lock is held only while rows are written. A step's `anonymised` entry is appended in the
transaction that marks it done, so the chain and the step table never disagree.

Two runs may hold the same operation at once: the request job's erasure and the anonymisation job
run side by side in the scheduler, and a scheduler that lost its lease finishes the job it is in.
So every write is conditional: under the transaction's lock, a step is written only where it is
stored exactly as this run last saw or wrote it, on an operation still open. The run that moves
first owns the step; the other drops the operation and records nothing more of it, so no step is
recorded twice and no operation verified twice (the soak found it). A `sending` step of a live run
looks like a crashed one's to the other, which settles it by reading Graph back and may send the
same write again: harmless, a PATCH is built from a fresh read and a second DELETE answers 404.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

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

    def sending(self, works: Iterable[Work], step: str, plans: Mapping[str, Mapping[str, Any]]) -> list[Work]:
        """Mark the step `sending` for each operation (its planned action in the evidence), and the
        operation `running`; committed before any of the writes is sent. Returns the works this run
        owns: send only theirs."""
        works = list(works)
        if not works:
            return []
        now = self.clock()
        with self.ledger.transaction() as tx:
            owned = _unmoved(tx.session, [(w, step) for w in works])
            works = [w for w in works if w.op.id in owned]
            for work in works:
                anonymisation.record_step(tx.session, work.op.id, step, "sending", now, revision=work.op.revision,
                                          evidence=plans.get(work.op.id, {}))
                anonymisation.set_state(tx.session, work.op.id, "running", now)
        for work in works:
            previous = work.steps.get(step)
            work.steps[step] = Step(step, "sending", (previous.attempts if previous else 0) + 1, work.op.revision,
                                    dict(plans.get(work.op.id, {})))
        return works

    def finish(self, outcomes: Iterable[Outcome]) -> None:
        """Record each outcome (with its entry and working-state changes) in one transaction."""
        outcomes = list(outcomes)
        if not outcomes:
            return
        now = self.clock()
        with self.ledger.transaction() as tx:
            owned = _unmoved(tx.session, [(o.work, o.step) for o in outcomes])
            outcomes = [o for o in outcomes if o.work.op.id in owned]
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


def _unmoved(session: Session, pairs: list[tuple[Work, str]]) -> set[str]:
    """The ids of the operations whose step is stored as this run last saw or wrote it, on an
    operation still open; called inside the transaction that writes them, whose lock keeps the
    answer true until it commits."""
    ids = [work.op.id for work, _ in pairs]
    stored, states = anonymisation.step_versions(session, ids), anonymisation.states(session, ids)
    owned = set()
    for work, step in pairs:
        known = work.steps.get(step)
        seen = None if known is None else (known.state, known.attempts, known.revision)
        if states.get(work.op.id) in anonymisation.OPEN_STATES and stored.get((work.op.id, step)) == seen:
            owned.add(work.op.id)
    return owned


def _refs(work: Work, entry: Mapping[str, Any]) -> dict[str, str]:
    refs = {work.op.object_type: work.op.object_id}
    if entry.get("event"):
        refs["event"] = str(entry["event"])
    return refs
