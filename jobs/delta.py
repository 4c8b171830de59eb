"""Following each business's scheduling-mailbox calendar with calendarView/delta between sweeps.

Every appointment is an event in its business's mailbox calendar (graph-facts §2.1), and that
calendar has a delta query (§2.9): a round from the stored `@odata.deltaLink` lists the events
changed since the round that returned it (`@removed` for deleted ones and ones moved out of the
window). A round that finds nothing costs one request, so a business is followed every few
minutes at a few requests an hour. One round of one business:

1. no stored link, or the horizon has slid a calendarView window past the link's window: open a
   new link (a first round over the horizon) and sweep the business (jobs/reconcile.py); the
   sweep starts after the link's round, so it proves the state the link's later rounds build on.
   The link is stored only once that sweep has finished;
2. Graph answers 410 (the link expired, `SyncStateNotFound`): forget it and do as in 1;
3. otherwise each changed event is a `Change` for jobs/reread.py, exactly as if a notification
   had named it, and what Graph says now is written through the Ingestor; the new link and the
   watermark's advance to the round's start commit in the same transaction;
4. a removed event the ledger never matched to an appointment names none (its id is all Graph
   gives): only a sweep can find which one went, so the business is swept.

A failed read writes nothing and keeps the old link, so the next round repeats the same changes
(the Ingestor makes that harmless). The watermark does not move while the business has an open
gap (state/watermarks.py): only the backfill sweep closes one. Ids and counts only in results.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from connector import Gone, GraphConnector
from connector.mailbox import DeltaRound
from connector.models import Event
from jobs.ingest import Ingestor
from jobs.reconcile import Reconciler
from jobs.reread import Change, Truth, reread
from ledger.transactions import Ledger, LedgerTransaction
from state.delta_links import DeltaPosition, delta_position, forget_delta_link, store_delta_link
from state.watermarks import advance_by_delta


class MailboxDelta(Protocol):
    """The part of `connector.mailbox.Mailbox` a delta round uses."""

    def events_delta(self, user: str, start: datetime | None = None, end: datetime | None = None, *,
                     delta_link: str | None = None) -> DeltaRound: ...


@dataclass
class DeltaResult:
    """What one business's round found and did (ids and counts only).

    events: the events the round listed (for `opened` and `expired`, the appointments swept).
    outcome: `quiet` (nothing changed), `changes` (written), `opened` (a new link and a sweep),
    `expired` (410: a new link and a sweep), `swept` (changes written, then a sweep for a removal
    no appointment could be named for), `failed` (a read failed: nothing written, link kept).
    """

    business_id: str
    outcome: str
    events: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    watermark_advanced: bool = False
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"business": self.business_id, "outcome": self.outcome, "events": self.events,
                "outcomes": dict(self.outcomes), "watermark_advanced": self.watermark_advanced,
                "failures": self.failures}


class DeltaFollower:
    """Runs delta rounds for businesses and writes what they find, through reread and the Ingestor."""

    def __init__(self, ledger: Ledger, graph: GraphConnector, ingestor: Ingestor, reconciler: Reconciler) -> None:
        self.ledger, self.graph, self.ingestor, self.reconciler = ledger, graph, ingestor, reconciler
        self.mailbox: MailboxDelta = graph.mailbox

    def follow_all(self, business_ids: Sequence[str]) -> list[DeltaResult]:
        """One round for every business in turn."""
        return [self.follow(business_id) for business_id in business_ids]

    def follow(self, business_id: str) -> DeltaResult:
        """One delta round of a business (steps 1 to 4 of the module docstring)."""
        started = self.ledger.clock()
        position = delta_position(self.ledger.engine, business_id)
        if position is None or self._slid(position, started):
            return self._open(business_id, "opened")
        try:
            round_ = self.mailbox.events_delta(business_id, delta_link=position.delta_link)
            events = list(round_)
        except Gone:
            forget_delta_link(self.ledger.engine, business_id)
            return self._open(business_id, "expired")
        return self._apply(business_id, started, events, _next_link(round_), position)

    def _slid(self, position: DeltaPosition, now: datetime) -> bool:
        # The link's window is fixed in its token; once the horizon has moved a whole calendarView
        # window past it, appointments booked far ahead would fall outside: open a new link.
        _start, end = self.reconciler.horizon.bounds(now)
        return end - position.window_end > self.reconciler.horizon.window

    def _open(self, business_id: str, outcome: str) -> DeltaResult:
        # The link is stored only once the sweep has finished: a failed sweep leaves the stored one as it was.
        started = self.ledger.clock()
        window = self.reconciler.horizon.bounds(started)
        round_ = self.mailbox.events_delta(business_id, *window)
        for _event in round_:
            pass   # the whole window: the sweep below compares it, not this
        delta_link = _next_link(round_)
        sweep = self.reconciler.reconcile_business(business_id)   # advances the watermark itself
        with self.ledger.transaction() as tx:
            store_delta_link(tx.session, business_id, delta_link, window=window, round_started=started, changes=0)
        return DeltaResult(business_id, outcome, sweep.appointments, sweep.outcomes + sweep.customer_outcomes)

    def _apply(self, business_id: str, started: datetime, events: list[Event], delta_link: str,
               position: DeltaPosition) -> DeltaResult:
        result = DeltaResult(business_id, "quiet" if not events else "changes", len(events))
        # A delta change "arrives" when the round began: what a horizon read started after that covers it.
        changes = [Change(row, event.id, "deleted" if event.removed else "updated", started)
                   for row, event in enumerate(events)]
        truth = reread(self.graph, self.ledger, business_id, changes) if changes else Truth()
        if truth.failed:
            result.outcome, result.failures = "failed", sorted(set(truth.failed.values()))
            return result
        unnamed = [c for c in changes if c.change_type == "deleted" and not truth.concerns.get(c.row_id)]
        with self.ledger.transaction() as tx:
            result.outcomes = write_truth(self.ingestor, tx, business_id, truth, truth.concerns.values())
            store_delta_link(tx.session, business_id, delta_link, window=(position.window_start, position.window_end),
                             round_started=started, changes=len(events))
            if not unnamed:
                result.watermark_advanced = advance_by_delta(tx.session, business_id, started=started)
        if unnamed:
            result.outcome = "swept"
            sweep = self.reconciler.reconcile_business(business_id)
            result.outcomes += sweep.outcomes + sweep.customer_outcomes
        return result


def _next_link(round_: DeltaRound) -> str:
    """The deltaLink that ends a finished round; a round without one is Graph breaking §2.9."""
    if not round_.delta_link:
        raise RuntimeError("a calendarView/delta round ended without an @odata.deltaLink")
    return round_.delta_link


def write_truth(ingestor: Ingestor, tx: LedgerTransaction, business_id: str, truth: Truth,
                concerns: Iterable[set[str]]) -> Counter[str]:
    """Write what Graph says now about the appointments concerned, and remember newly matched events."""
    wanted = sorted(set().union(*concerns))
    outcomes: Counter[str] = Counter()
    for appointment_id in wanted:
        if appointment_id in truth.appointments:
            outcomes[ingestor.ingest_appointment(truth.appointments[appointment_id], tx=tx)] += 1
        elif appointment_id in truth.gone:
            outcomes[ingestor.record_gone(business_id, appointment_id, reason="deleted", tx=tx)] += 1
    for event_id, appointment_id in truth.events.items():
        if appointment_id in wanted:
            ingestor.link_event(tx, appointment_id, event_id)
    return outcomes
