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
`state.inbox.fail`. A row whose work is another row's turn (jobs/coalescing.py: a lifecycle
event or a horizon read coalesced with others) is deferred: put back, no attempt counted.
Lifecycle rows go to `lifecycle` (jobs.lifecycle.handle); without one they are not claimed.
Rows of the privacy mailbox's Inbox subscription go to `mailbox` (jobs/privacy_mailbox.py), one
message at a time: each becomes a draft request in the transaction that marks its rows done.
The worker reaches the inbox and the subscriptions only through `state.inbox` and
`state.subscriptions`.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime

from structlog.contextvars import bound_contextvars

from connector import GraphConnector
from jobs.coalescing import Deferred
from jobs.ingest import Ingestor
from jobs.metrics import JobMetrics
from jobs.privacy_mailbox import PrivacyMailbox
from jobs.reconcile import Horizon
from jobs.reread import Change, Truth, end_horizon_read, failure_reason, reread
from ledger.transactions import Clock, Ledger
from database.times import parse_time
from state.inbox import ClaimedRow, claim_rows, defer_rows, fail_rows, finish_rows
from state.subscriptions import businesses_of

log = logging.getLogger("bookings_ledger.worker")
LifecycleHandler = Callable[[ClaimedRow], str]
CHANGE_ONLY = ("change",)


class Worker:
    """Processes the inbox in cycles; safe to run in many processes on PostgreSQL."""

    def __init__(
        self, ledger: Ledger, ingestor: Ingestor, graph: GraphConnector, *, clock: Clock,
        lifecycle: LifecycleHandler | None = None, batch_size: int = 500, metrics: JobMetrics | None = None,
        horizon: Horizon | None = None, mailbox: PrivacyMailbox | None = None,
    ) -> None:
        self.ledger, self.ingestor, self.graph, self.clock = ledger, ingestor, graph, clock
        self.mailbox = mailbox
        self.lifecycle, self.batch_size = lifecycle, batch_size
        self.metrics = metrics or JobMetrics()
        self.horizon = horizon or Horizon()

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
        # Without a handler, lifecycle rows are left pending for a worker that has one.
        rows = claim_rows(self.ledger.engine, self.clock(), self.batch_size,
                          kinds=None if self.lifecycle else CHANGE_ONLY)
        changes = [r for r in rows if r.kind != "lifecycle"]
        self._handle_lifecycle([r for r in rows if r.kind == "lifecycle"])
        businesses = businesses_of(self.ledger.engine, sorted({r.subscription_id for r in changes}))
        by_business: dict[str, list[ClaimedRow]] = defaultdict(list)
        for row in changes:
            by_business[businesses.get(row.subscription_id, "")].append(row)
        for business_id, mine in by_business.items():
            # Every line logged while these rows are worked on names them (ids, never contents).
            with bound_contextvars(inbox_rows=[r.id for r in mine]):
                if self.mailbox is not None and business_id and self.mailbox.watches(business_id):
                    self._take_mail(mine)
                elif business_id:
                    self._process(business_id, mine)
                else:
                    self._commit_nothing(mine)  # not one of our subscriptions (any more): nothing to read
        return len(rows)

    def _handle_lifecycle(self, rows: list[ClaimedRow]) -> None:
        assert self.lifecycle is not None or not rows
        done: list[int] = []
        deferred: dict[int, datetime] = {}
        for group in _same_request(rows):
            # The latest row of a group stands for all of it: what answers it (a reauthorization,
            # a sweep, a replacement started after it arrived) answers the earlier ones too.
            latest = group[-1]
            try:
                # Handled with no session open: on SQLite one would hold the write lock that the
                # handler's own transactions (reconciliation) need.
                with bound_contextvars(inbox_rows=[r.id for r in group]):
                    outcome = self.lifecycle(latest)  # type: ignore[misc]
            except Deferred as later:
                deferred.update(dict.fromkeys((r.id for r in group), later.until))
                continue
            except Exception as exc:  # whatever went wrong, the rows are retried, then parked
                self._fail([r.id for r in group], failure_reason(exc, "handling lifecycle"))
                continue
            done += [r.id for r in group]
            log.info("inbox rows %s done: lifecycle %s", _ids(group), outcome)
        # One commit for the cycle's acknowledgements (each handler committed its own work): a
        # crash before it only has the rows handled again, which finds their work done.
        finish_rows(self.ledger.engine, done, self.clock())
        self.metrics.inbox_rows.labels("done").inc(len(done))
        self._defer(deferred)

    def _process(self, business_id: str, rows: list[ClaimedRow]) -> None:
        changes = [Change(r.id, r.resource_id, r.event, parse_time(r.received_at)) for r in rows]
        try:
            truth = reread(self.graph, self.ledger, business_id, changes, horizon=self.horizon)
        except Exception as exc:  # Graph or database out of reach: every row of the business waits
            self._fail([r.id for r in rows], failure_reason(exc, "re-reading"))
            return
        done = [r.id for r in rows if r.id not in truth.failed and r.id not in truth.deferred]
        try:
            try:
                self._commit(business_id, truth, done)
            except Exception:
                log.warning("business %s: a batch of %d rows failed; retrying them one by one", business_id, len(done))
                for row_id in done:
                    self._commit_alone(business_id, truth, row_id)
        finally:
            # A no-op when a commit ended it as done; otherwise nothing it read is in the ledger.
            end_horizon_read(self.ledger.engine, self.clock, truth, done=False)
        for row_id, reason in truth.failed.items():
            self._fail([row_id], reason)
        self._defer(truth.deferred)

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
            finish_rows(tx.session, row_ids, self.clock())
            if truth.horizon_rows.intersection(row_ids):
                # Each of those rows wants all the horizon read found, so this commit holds it all.
                end_horizon_read(tx.session, self.clock, truth, done=True)
        self.metrics.inbox_rows.labels("done").inc(len(row_ids))
        for outcome, count in outcomes.items():
            self.metrics.ledger_writes.labels(outcome).inc(count)
        for row_id in row_ids:
            log.debug("inbox row %d done", row_id)
        log.info("business %s: %d rows done, %s", business_id, len(row_ids), dict(outcomes) or "nothing to write")

    def _take_mail(self, rows: list[ClaimedRow]) -> None:
        assert self.mailbox is not None
        by_message: dict[str | None, list[ClaimedRow]] = defaultdict(list)
        for row in rows:
            # Only arrivals are news: an `updated` or `deleted` (the subscription asks for neither) is done at once.
            by_message[row.resource_id if row.event == "created" else None].append(row)
        for message_id, mine in by_message.items():
            try:
                outcome = self.mailbox.take_notified(message_id, [r.id for r in mine])
            except Exception as exc:  # Graph or the database out of reach: retried with backoff, then parked
                self._fail([r.id for r in mine], failure_reason(exc, "taking in mail"))
                continue
            self.metrics.inbox_rows.labels("done").inc(len(mine))
            log.info("inbox rows %s done: privacy mailbox %s", _ids(mine), outcome)

    def _commit_alone(self, business_id: str, truth: Truth, row_id: int) -> None:
        with bound_contextvars(inbox_rows=[row_id]):
            try:
                self._commit(business_id, truth, [row_id])
            except Exception as exc:  # this row is the poison one: it alone is retried, then parked
                self._fail([row_id], failure_reason(exc, "writing the ledger"))

    def _commit_nothing(self, rows: list[ClaimedRow]) -> None:
        with self.ledger.transaction() as tx:
            finish_rows(tx.session, [r.id for r in rows], self.clock())
        for row in rows:
            log.debug("inbox row %d done", row.id)
        self.metrics.inbox_rows.labels("done").inc(len(rows))
        log.info("%d rows for subscriptions the service does not hold: nothing to read", len(rows))

    def _defer(self, until: dict[int, datetime]) -> None:
        if not until:
            return
        defer_rows(self.ledger.engine, until)
        self.metrics.inbox_rows.labels("deferred").inc(len(until))
        log.info("%d inbox rows deferred until at most %s: another row's turn does their work", len(until),
                 max(until.values()).isoformat())

    def _fail(self, row_ids: Iterable[int], reason: str) -> None:
        for row in fail_rows(self.ledger.engine, row_ids, self.clock(), reason):
            self.metrics.inbox_rows.labels("parked" if row.parked else "failed").inc()
            log.warning("inbox row %d failed (attempt %d, %s): %s", row.id, row.attempts,
                        "parked" if row.parked else "pending", reason)


def _same_request(rows: list[ClaimedRow]) -> list[list[ClaimedRow]]:
    """Lifecycle rows grouped by subscription and event, each group in order of arrival."""
    groups: dict[tuple[str, str], list[ClaimedRow]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r.received_at, r.id)):
        groups[(row.subscription_id, row.event)].append(row)
    return list(groups.values())


def _ids(rows: list[ClaimedRow]) -> str:
    """Row ids for a log line: all of a few, the range of many."""
    return ", ".join(str(r.id) for r in rows) if len(rows) <= 5 else f"{rows[0].id}…{rows[-1].id} ({len(rows)})"
