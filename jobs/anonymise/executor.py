"""The executor: every open operation, business by business, step by step, in batched rounds.

    anonymiser = Anonymiser(ledger, connector, policy, clock)
    anonymiser.run(limit=None)     # -> {"operations": n, "done": n, "held": n, "failed": n, "waiting": n}
    anonymiser.plan_dry_run()      # -> [{operation, object, strategy, steps}], touching nothing

A round takes every operation of one business to the end of its next step: the operations at
the same step share each `$batch` (20 requests to an envelope, the connector's limiter keeps a
mailbox at 4 in flight and honours Retry-After). Before each round the legal holds are read
again, so a hold placed while an operation is in flight stops it before its next step (state
`held`; a later run resumes it once the hold is released). An operation that made no progress
in a round (Graph could not be read, say) waits for the next run; one whose step was tried
MAX_ATTEMPTS times fails, with its evidence, for a person to look at.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from config.retention import RetentionPolicy
from connector import GraphConnector
from jobs.anonymise import context
from jobs.anonymise.appointments import deletable, delete_step, rewrite_step
from jobs.anonymise.context import Run, Work
from jobs.anonymise.customers import customer_step
from jobs.anonymise.events import event_step
from jobs.anonymise.journal import Journal, Outcome
from jobs.anonymise.keys import keys_step
from jobs.anonymise.readback import readback_step
from ledger.holds import Hold, active_holds, holds_covering
from ledger.transactions import Ledger
from state import anonymisation

Handler = Callable[[Run, Journal, list[Work]], None]
HANDLERS: dict[str, Handler] = {
    "appointment": rewrite_step, "appointment-delete": delete_step, "event": event_step, "customer": customer_step,
    "readback": readback_step, "keys": keys_step,
}
APPOINTMENT_WRITES = frozenset({"appointment", "appointment-delete"})   # one per appointment a round
MAX_ATTEMPTS = 5       # sends of one step before it fails: a write Graph keeps refusing needs a person
MAX_ROUNDS = 12        # more than the five steps plus settling rounds any operation needs


class Anonymiser:
    """Runs the open anonymisation operations (state/anonymisation.py) against Graph."""

    def __init__(self, ledger: Ledger, connector: GraphConnector, policy: RetentionPolicy,
                 clock: Callable[[], datetime]) -> None:
        self.ledger, self.graph, self.policy, self.clock = ledger, connector, policy, clock
        self.journal = Journal(ledger, clock)

    def run(self, limit: int | None = None, *, subjects: Iterable[str] | None = None) -> dict[str, int]:
        """Take every open operation (at most `limit`; of `subjects` only, for a request's run) as
        far as it can go now; counts by outcome."""
        self.ledger.finish_erasures()   # an erasure a crash interrupted ends first: its keys may be half gone
        with self.ledger.transaction() as tx:
            operations = anonymisation.open_operations(tx.session, limit=limit, subjects=subjects)
        by_business: dict[str, list[anonymisation.PlannedOperation]] = defaultdict(list)
        for op in operations:
            by_business[op.business_id].append(op)
        counts: Counter[str] = Counter(operations=len(operations))
        for business, ops in sorted(by_business.items()):
            counts.update(self._business(business, ops))
        return dict(counts)

    def plan_dry_run(self) -> list[dict[str, Any]]:
        """What a run would do to each open operation, from the working state alone: no Graph call,
        no write (the PATCH bodies themselves need a fresh read of Graph, so they are not shown)."""
        now = self.clock()
        planned = []
        with self.ledger.transaction() as tx:
            for op in anonymisation.open_operations(tx.session):
                work = context.load(tx, op, now, self.ledger.keys.phone_region)
                held = [h.id for h in holds_covering(tx.session, now, **_scope(op))]
                run = self._run(op.business_id, now)
                strategy = ("delete" if deletable(run, work) else "rewrite") if op.object_type == "appointment" else (
                    "keep" if work.needed_by or self.policy.anonymisation.customer_record == "keep" else "delete")
                planned.append({"operation": op.id, "object_type": op.object_type, "object_id": op.object_id,
                                "business": op.business_id, "subject": op.subject_ref, "categories": list(op.categories),
                                "cause": op.cause, "state": op.state, "strategy": strategy, "needed_by": work.needed_by,
                                "held_by": held, "next_step": work.next_step()})
            tx.session.rollback()   # touches nothing, not even the session's autoflush
        return planned

    def _run(self, business: str, now: datetime) -> Run:
        return Run(self.ledger, self.graph, self.policy, business, now, self.ledger.keys.phone_region)

    def _business(self, business: str, ops: list[anonymisation.PlannedOperation]) -> Counter[str]:
        now = self.clock()
        run = self._run(business, now)
        with self.ledger.transaction() as tx:
            works = [context.load(tx, op, now, run.region) for op in ops]
        active = works
        for _ in range(MAX_ROUNDS):
            active = self._unheld(active)
            self._fail_exhausted(active)
            active = [w for w in active if w.next_step() is not None and w.state_of(w.next_step() or "") != "failed"]
            if not active:
                break
            groups: dict[str, list[Work]] = defaultdict(list)
            written: set[str] = set()
            deferred: list[Work] = []
            for work in active:
                work.progressed = False
                step = work.next_step()
                if step in APPOINTMENT_WRITES and work.op.object_id in written:
                    # Two customers of one group appointment: each rewrite is built from the same read
                    # and replaces the whole array, so the second would put the first one back.
                    deferred.append(work)
                    continue
                if step in APPOINTMENT_WRITES:
                    written.add(work.op.object_id)
                groups[step].append(work)  # type: ignore[index]
            for step, handler in HANDLERS.items():
                if groups.get(step):
                    handler(run, self.journal, groups[step])
            active = [w for w in active if w.progressed] + deferred
        return self._outcomes(works)

    def _unheld(self, works: list[Work]) -> list[Work]:
        """The works no hold covers now; the others are set `held` (and held ones released resume)."""
        now = self.clock()
        with self.ledger.transaction() as tx:
            # One read of the active holds per round, matched here: a query per operation per
            # round was most of a large run's database time.
            active = active_holds(tx.session, now)
            current = anonymisation.states(tx.session, [w.op.id for w in works])
        held = {w.op.id: [h for h in active if _covers(h, w.op)] for w in works}
        stopped = [w for w in works if held[w.op.id] and current.get(w.op.id) != "held"]
        for work in stopped:
            self.journal.set_state([work], "held", detail="hold " + ",".join(h.id for h in held[work.op.id])[:180])
        return [w for w in works if not held[w.op.id] and current.get(w.op.id) not in ("failed", "done")]

    def _fail_exhausted(self, works: list[Work]) -> None:
        exhausted = [w for w in works if (step := w.next_step()) and (s := w.steps.get(step))
                     and s.state in ("pending", "sending") and s.attempts >= MAX_ATTEMPTS]
        self.journal.finish(Outcome(w, w.next_step(), "failed", {**w.steps[w.next_step()].evidence,  # type: ignore[index, arg-type]
                                                                  "why": "attempts exhausted"}) for w in exhausted)

    def _outcomes(self, works: list[Work]) -> Counter[str]:
        with self.ledger.transaction() as tx:
            states = [anonymisation.operation(tx.session, w.op.id) for w in works]
        counts: Counter[str] = Counter()
        for state in states:
            name = state.state if state is not None else "done"
            counts[{"done": "done", "held": "held", "failed": "failed"}.get(name, "waiting")] += 1
        return counts


def _covers(hold: Hold, op: anonymisation.PlannedOperation) -> bool:
    """Whether the hold names the operation's subject, appointment or business."""
    return (hold.scope, hold.target) in {("subject", op.subject_ref), ("business", op.business_id),
                                         ("appointment", op.object_id if op.object_type == "appointment" else None)}


def _scope(op: anonymisation.PlannedOperation) -> dict[str, Any]:
    """What a hold must name to cover this operation: its subject, appointment or business."""
    appointments = [op.object_id] if op.object_type == "appointment" else []
    return {"subject": op.subject_ref, "appointment_ids": appointments, "business_ids": [op.business_id]}
