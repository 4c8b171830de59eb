"""The inbox worker: claim notification rows, re-read the truth per business, write, acknowledge.

    worker = Worker(ledger, ingestor, graph, clock=clock, lifecycle=handle_or_None, metrics=metrics_or_None)
    worker.run_once()                  # one cycle; returns the number of rows claimed
    worker.run(stop_event, interval=1.0)

A cycle claims up to `batch_size` due rows (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so any number
of workers share the inbox; SQLite: one worker), maps each change row's subscription to its
business, coalesces the rows per business and re-reads Bookings for them in `$batch` rounds
(jobs/reread.py). The ledger writes for a business and the acknowledgement of its rows commit
in one transaction: a row is `done` only if its entries are in. If that transaction fails, the
rows are retried one by one, so one poison row fails alone; a failed row is retried with
backoff and parked with its reason (exception class and ids, never personal data) by
`state.inbox.fail`. Lifecycle rows go to `lifecycle` (jobs.lifecycle.handle); without one they
stay pending.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import GraphConnector
from jobs.ingest import Ingestor
from jobs.metrics import JobMetrics
from jobs.reread import Change, Truth, failure_reason, reread
from ledger.transactions import Clock, Ledger
from database.times import format_time
from state.inbox import InboxRow, claim, fail, finish
from state.subscriptions import GraphSubscription

log = logging.getLogger("bookings_ledger.worker")
LIFECYCLE_DEFER = timedelta(seconds=60)  # how long a lifecycle row waits when no handler is wired
LifecycleHandler = Callable[[InboxRow], str]


@dataclass(frozen=True)
class Claimed:
    """The ids of a claimed change row (a plain copy: the claiming session is closed)."""

    id: int
    subscription_id: str
    event: str
    resource_id: str | None


class Worker:
    """Processes the inbox in cycles; safe to run in many processes on PostgreSQL."""

    def __init__(
        self, ledger: Ledger, ingestor: Ingestor, graph: GraphConnector, *, clock: Clock,
        lifecycle: LifecycleHandler | None = None, batch_size: int = 500, metrics: JobMetrics | None = None,
    ) -> None:
        self.ledger, self.ingestor, self.graph, self.clock = ledger, ingestor, graph, clock
        self.lifecycle, self.batch_size = lifecycle, batch_size
        self.metrics = metrics or JobMetrics()

    def run(self, stop: threading.Event, *, interval: float = 1.0) -> None:
        """Cycle until `stop` is set, starting a cycle every `interval` s (at once after a full one)."""
        while not stop.is_set():
            started = time.monotonic()
            if self.run_once() < self.batch_size:
                # The wait lets notifications coalesce: a cycle's Graph reads serve every row
                # of a business that arrived meanwhile, which is what keeps requests per change low.
                stop.wait(max(0.0, interval - (time.monotonic() - started)))

    def run_once(self) -> int:
        """Claim the due rows and process them; returns how many rows were claimed."""
        changes, lifecycle, businesses = self._claim()
        for row_id in lifecycle:
            self._handle_lifecycle(row_id)
        by_business: dict[str, list[Claimed]] = defaultdict(list)
        for row in changes:
            by_business[businesses.get(row.subscription_id, "")].append(row)
        for business_id, rows in by_business.items():
            if business_id:
                self._process(business_id, rows)
            else:
                self._commit_nothing(rows)  # not one of our subscriptions (any more): nothing to read
        return len(changes) + len(lifecycle)

    def _claim(self) -> tuple[list[Claimed], list[int], dict[str, str]]:
        now = self.clock()
        with Session(self.ledger.engine) as session, session.begin():
            rows = claim(session, now, self.batch_size)
            changes = [Claimed(r.id, r.subscription_id, r.event, r.resource_id) for r in rows if r.kind != "lifecycle"]
            lifecycle = [r for r in rows if r.kind == "lifecycle"]
            lifecycle_ids = [r.id for r in lifecycle] if self.lifecycle else []
            if self.lifecycle is None:
                for row in lifecycle:
                    row.lease_until, row.not_before = None, format_time(now + LIFECYCLE_DEFER)
            ids = sorted({c.subscription_id for c in changes})
            businesses = dict(session.execute(
                select(GraphSubscription.subscription_id, GraphSubscription.business_id)
                .where(GraphSubscription.subscription_id.in_(ids))
            ).all()) if ids else {}
        return changes, lifecycle_ids, businesses

    def _handle_lifecycle(self, row_id: int) -> None:
        assert self.lifecycle is not None
        try:
            with Session(self.ledger.engine) as session:
                row = session.get(InboxRow, row_id)
                session.expunge(row)  # type: ignore[arg-type]
            # Handled with the session closed: on SQLite an open one holds the write lock the
            # handler's own transactions (reconciliation) need.
            outcome = self.lifecycle(row)  # type: ignore[arg-type]
            with self.ledger.transaction() as tx:
                finish(tx.session, tx.session.get(InboxRow, row_id), self.clock())  # type: ignore[arg-type]
            self.metrics.inbox_rows.labels("done").inc()
            log.info("inbox row %d done: lifecycle %s", row_id, outcome)
        except Exception as exc:  # whatever went wrong, the row is retried, then parked
            self._fail([row_id], failure_reason(exc, "handling lifecycle"))

    def _process(self, business_id: str, rows: list[Claimed]) -> None:
        try:
            truth = reread(self.graph, self.ledger, business_id, [Change(r.id, r.resource_id, r.event) for r in rows])
        except Exception as exc:  # Graph or database out of reach: every row of the business waits
            self._fail([r.id for r in rows], failure_reason(exc, "re-reading"))
            return
        done = [r.id for r in rows if r.id not in truth.failed]
        try:
            self._commit(business_id, truth, done)
        except Exception:
            log.warning("business %s: a batch of %d rows failed; retrying them one by one", business_id, len(done))
            for row_id in done:
                self._commit_alone(business_id, truth, row_id)
        for row_id, reason in truth.failed.items():
            self._fail([row_id], reason)

    def _commit(self, business_id: str, truth: Truth, row_ids: list[int]) -> None:
        """Write the entries the rows call for and mark the rows done, in one transaction."""
        wanted = sorted(set().union(*(truth.concerns.get(r, set()) for r in row_ids)))
        outcomes: Counter[str] = Counter()
        with self.ledger.transaction() as tx:
            for appointment_id in wanted:
                if appointment_id in truth.appointments:
                    outcomes[self.ingestor.ingest_appointment(truth.appointments[appointment_id], tx=tx)] += 1
                elif appointment_id in truth.gone:
                    outcomes[self.ingestor.record_gone(business_id, appointment_id, reason="deleted", tx=tx)] += 1
            for event_id, appointment_id in truth.events.items():
                if appointment_id in wanted:
                    self.ingestor.link_event(tx, appointment_id, event_id)
            for row_id in row_ids:
                finish(tx.session, tx.session.get(InboxRow, row_id), self.clock())  # type: ignore[arg-type]
        self.metrics.inbox_rows.labels("done").inc(len(row_ids))
        for outcome, count in outcomes.items():
            self.metrics.ledger_writes.labels(outcome).inc(count)
        for row_id in row_ids:
            log.debug("inbox row %d done", row_id)
        log.info("business %s: %d rows done, %s", business_id, len(row_ids), dict(outcomes) or "nothing to write")

    def _commit_alone(self, business_id: str, truth: Truth, row_id: int) -> None:
        try:
            self._commit(business_id, truth, [row_id])
        except Exception as exc:  # this row is the poison one: it alone is retried, then parked
            self._fail([row_id], failure_reason(exc, "writing the ledger"))

    def _commit_nothing(self, rows: list[Claimed]) -> None:
        with self.ledger.transaction() as tx:
            for row in rows:
                finish(tx.session, tx.session.get(InboxRow, row.id), self.clock())  # type: ignore[arg-type]
                log.debug("inbox row %d done", row.id)
        self.metrics.inbox_rows.labels("done").inc(len(rows))
        log.info("%d rows for subscriptions the service does not hold: nothing to read", len(rows))

    def _fail(self, row_ids: Iterable[int], reason: str) -> None:
        now = self.clock()
        with Session(self.ledger.engine) as session, session.begin():
            for row_id in row_ids:
                row = session.get(InboxRow, row_id)
                if row is not None:
                    fail(session, row, now, reason)
                    self.metrics.inbox_rows.labels("parked" if row.state == "parked" else "failed").inc()
                    log.warning("inbox row %d failed (attempt %d, %s): %s", row_id, row.attempts, row.state, reason)
