"""Retention evaluation: which categories of whose data on which Graph object have expired, by the policy.

    evaluator = RetentionEvaluator(ledger, policy, clock, zones)
    report = evaluator.evaluate(dry_run=False)      # -> RetentionReport
    status(session, now, days=30)                   # what expires when, by category and day

Each run first records a new policy version (`policy-changed`, with the categories it made
stricter, whose held data is re-dated at once; a longer period applies to data collected from then
on), then reads the due dates before now that no `retention-expired` entry covers yet (one range
scan of a partial index: its cost grows with the rows due, never with the ledger), and for each
(subject, Graph object) writes one `retention-expired` entry with the expired categories and plans
its anonymisation (`state.anonymisation.plan_operation(cause="retention")`), in one transaction per
batch. A record a legal hold covers is skipped and stays due: the first run after the release
expires it; so is a subject's under a restriction (state/subject_restrictions.py, Art. 18).
Days are counted on each business's calendar (docs/retention.md): its zone is read
once from its scheduling mailbox (`BusinessZones`), before any of its dates can be read as due.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from config.retention import RetentionPolicy, parse_duration
from connector.parse import iana_zone
from database.times import format_time
from ledger.holds import Held, holds_covering
from ledger.transactions import Clock, Ledger, LedgerTransaction
from ledger.views import VIEW_OBJECT
from state import business_time_zones, retention_dues, retention_policies, subject_restrictions
from state.anonymisation import plan_operation
from state.retention_policies import PolicyVersion

log = logging.getLogger(__name__)
BATCH = 500            # (subject, object) groups per transaction: a backlog never holds the chain's lock for long
# A date counted in UTC before a business's zone was known is off by at most its DST shift (an hour;
# none is larger): looking this far ahead finds every business whose zone must be read first.
ZONE_MARGIN = timedelta(hours=2)


class PolicyVersionUnchanged(ValueError):
    """The policy file's periods or clocks changed but its `policy_version` did not."""


class PolicyVersionSuperseded(ValueError):
    """The policy file's version was replaced by a later one: this process runs an old file."""


class TimeZoneReader(Protocol):
    """The part of `connector.mailbox.Mailbox` the zones need."""

    def time_zone(self, user: str) -> str: ...


class BusinessZones:
    """Each business's time zone, read from its scheduling mailbox once and kept in the working state."""

    def __init__(self, engine: Engine, mailbox: TimeZoneReader, clock: Clock) -> None:
        self.engine, self.mailbox, self.clock = engine, mailbox, clock

    def refresh(self, business_ids: Iterable[str]) -> dict[str, str]:
        """Read each business's zone from Graph (one call each) and store it; business id -> IANA zone.
        A new or changed zone re-dates the business's pending due dates."""
        found = {}
        for business_id in business_ids:
            graph_name = self.mailbox.time_zone(business_id)
            zone = iana_zone(graph_name)
            if zone is None:
                # The name, not a person: Graph's zone names are a fixed list.
                log.warning("business %s: time zone %r is unknown, its days are counted in UTC", business_id, graph_name)
                zone = "UTC"
            with Session(self.engine) as session, session.begin():
                if business_time_zones.store_zone(session, business_id, zone, graph_name, self.clock()):
                    retention_dues.redate_business(session, business_id, business_time_zones.to_tzinfo(zone))
            found[business_id] = zone
        return found

    def ensure(self, business_ids: Iterable[str]) -> dict[str, str]:
        """`refresh` only the businesses whose zone was never read (the first need)."""
        with Session(self.engine) as session:
            missing = [b for b in business_ids if business_time_zones.zone_name(session, b) is None]
        return self.refresh(missing)


@dataclass(frozen=True)
class Expiry:
    """The categories of one subject's data on one Graph object whose period has passed."""

    subject_ref: str
    object_type: str
    object_id: str
    business_id: str
    categories: tuple[str, ...]
    holds: tuple[str, ...] = ()          # the ids of the holds that keep it, when held
    operation: str | None = None         # the anonymisation operation planned for it

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject_ref, "object_type": self.object_type, "object_id": self.object_id,
                "business": self.business_id, "categories": list(self.categories), "holds": list(self.holds),
                "operation": self.operation}


@dataclass
class RetentionReport:
    """What one evaluation found and did (ids and categories only)."""

    evaluated_at: str
    policy_version: str
    dry_run: bool
    policy_changed: dict[str, Any] | None = None
    expired: list[Expiry] = field(default_factory=list)
    held: list[Expiry] = field(default_factory=list)
    restricted: list[Expiry] = field(default_factory=list)   # due, kept: the subject restricted processing
    destroyed: int = 0          # view records whose usage.audit data was destroyed (nothing in Bookings)

    def as_dict(self) -> dict[str, Any]:
        """The figures a job run records."""
        return {"evaluated_at": self.evaluated_at, "policy_version": self.policy_version, "dry_run": self.dry_run,
                "policy_changed": self.policy_changed, "expired": len(self.expired), "held": len(self.held),
                "restricted": len(self.restricted), "destroyed": self.destroyed, "operations": sum(1 for e in self.expired if e.operation)}


class _DryRun(Exception):
    """Raised at the end of a dry run's transaction so that it rolls back."""


class RetentionEvaluator:
    """Marks expired data in the ledger and plans its anonymisation; idempotent, hold-aware."""

    def __init__(self, ledger: Ledger, policy: RetentionPolicy, clock: Clock, zones: BusinessZones | None) -> None:
        self.ledger, self.policy, self.clock, self.zones = ledger, policy, clock, zones

    def evaluate(self, *, dry_run: bool = False) -> RetentionReport:
        """One run over everything due now; a dry run does the same in transactions it rolls back
        (and reads no zone from Graph: it counts with the zones already known)."""
        now = self.clock()
        if self.zones is not None and not dry_run:
            self._read_zones_due_soon(now)
        report = RetentionReport(format_time(now), self.policy.policy_version, dry_run)
        with self._transaction(dry_run) as tx:
            report.policy_changed = record_policy(tx, self.policy, now)
            groups = _grouped(retention_dues.pending_before(tx.session, format_time(now)))
            if dry_run:
                self._expire(tx, groups, now, report)
        if not dry_run:
            for start in range(0, len(groups), BATCH):
                with self.ledger.transaction() as tx:
                    self._expire(tx, groups[start:start + BATCH], now, report)
            report.destroyed = self._destroy_view_records()
        return report

    def _destroy_view_records(self) -> int:
        """Destroy the expired viewer context of audited views (ledger/views.py): this service's own
        data, so nothing to anonymise in Bookings. The due row goes only after its category is
        destroyed, so a crash in between repeats the destruction at the next run, never skips it."""
        with Session(self.ledger.engine) as session:
            expired = retention_dues.expired_of(session, VIEW_OBJECT)
        destroyed = 0
        for view_id, subject, category in expired:
            try:
                self.ledger.destroy_category(subject, category, reason="retention-expired")
            except Held:
                continue        # a hold on the viewer placed since the expiry: kept until it is released
            with Session(self.ledger.engine) as session, session.begin():
                retention_dues.forget(session, VIEW_OBJECT, view_id, subject, [category])
            destroyed += 1
        return destroyed

    def _read_zones_due_soon(self, now: datetime) -> None:
        with Session(self.ledger.engine) as session:
            unknown = retention_dues.unknown_zone_businesses(
                session, format_time(now + ZONE_MARGIN), lambda b: business_time_zones.zone_name(session, b) is not None)
        if unknown:
            assert self.zones is not None
            self.zones.refresh(sorted(unknown))

    def _transaction(self, dry_run: bool) -> Any:
        return _rolled_back(self.ledger) if dry_run else self.ledger.transaction()

    def _expire(self, tx: LedgerTransaction, groups: Sequence[tuple[tuple[str, str, str, str], list[str]]],
                now: datetime, report: RetentionReport) -> None:
        stamp = format_time(now)
        # The transaction holds the chain's lock from its start (Ledger.transaction), as placing a
        # hold does: a hold is either committed before these checks, and seen, or placed after this
        # batch. A second evaluator waits for the lock, then finds the rows marked (mark_expired
        # marks only what no run marked before).
        for (subject, object_type, object_id, business), categories in groups:
            expiry = Expiry(subject, object_type, object_id, business, tuple(sorted(categories)))
            held = holds_covering(tx.session, now, subject=subject, business_ids=[business] if business else [],
                                  appointment_ids=[object_id] if object_type == "appointment" else [])
            if held:
                report.held.append(replace(expiry, holds=tuple(h.id for h in held)))
                continue
            if subject_restrictions.in_force(tx.session, [subject], kinds=("restriction",)):
                report.restricted.append(expiry)   # Art. 18: kept for the subject, until the restriction is lifted
                continue
            marked = retention_dues.mark_expired(tx.session, object_type, object_id, subject, categories, stamp)
            if not marked:
                continue
            tx.append("retention-expired", subject=subject, refs={object_type: object_id}, business=business or None,
                      categories=marked, policy_version=self.policy.policy_version)
            if object_type == VIEW_OBJECT:      # destroyed after the batch commits: _destroy_view_records
                report.expired.append(replace(expiry, categories=tuple(marked)))
                continue
            planned = plan_operation(tx.session, subject_ref=subject, business_id=business, object_type=object_type,
                                     object_id=object_id, categories=marked, cause="retention", now=now)
            report.expired.append(replace(expiry, categories=tuple(marked), operation=planned.id if planned else None))


def _grouped(rows: list[retention_dues.RetentionDue]) -> list[tuple[tuple[str, str, str, str], list[str]]]:
    """Due rows by (subject, object type, object id, business), in order of their first due date."""
    groups: dict[tuple[str, str, str, str], list[str]] = defaultdict(list)
    for row in rows:
        groups[(row.subject_ref, row.object_type, row.object_id, row.business_id or "")].append(row.category)
    return list(groups.items())


@contextmanager
def _rolled_back(ledger: Ledger) -> Iterator[LedgerTransaction]:
    """A ledger transaction that always rolls back (the dry run's)."""
    try:
        with ledger.transaction() as tx:
            yield tx
            raise _DryRun
    except _DryRun:
        pass


def record_policy(tx: LedgerTransaction, policy: RetentionPolicy, now: datetime) -> dict[str, Any] | None:
    """Record the policy file's version if it is new: a `policy-changed` entry naming the categories
    it made stricter, whose data already held is re-dated at once (never lengthened). The entry's
    details; None when the version was recorded before."""
    # The transaction holds the chain's lock (Ledger.transaction): of two evaluators starting at
    # once, the second sees the first one's version.
    last = retention_policies.latest(tx.session)
    periods = {c.id: (c.retention, c.clock) for c in policy.category}
    if last is not None and last.policy_version == policy.policy_version:
        if last.periods != periods:
            raise PolicyVersionUnchanged(f"the retention policy changed but its policy_version is still "
                                         f"{policy.policy_version}: give the new content a new version")
        return None
    if retention_policies.was_recorded(tx.session, policy.policy_version):
        # A process still on an older file (a rolling upgrade, a forgotten host) must not expire data
        # by it, nor flip the policy in force back and forth: it fails until it runs the current file.
        raise PolicyVersionSuperseded(f"the retention policy {policy.policy_version} was replaced by "
                                      f"{last.policy_version if last else '?'}: run the current policy file")
    before = last.periods if last is not None else {}
    stricter = sorted(c for c, (period, _) in periods.items()
                      if c in before and parse_duration(period) < parse_duration(before[c][0]))
    details = {"policy_version": policy.policy_version, "effective_from": format_time(now), "stricter": stricter,
               "previous_version": last.policy_version if last is not None else None}
    tx.append("policy-changed", **details)
    retention_policies.record(tx.session, PolicyVersion(policy.policy_version, format_time(now), periods))
    zones: dict[str, Any] = {}

    def zone_of(business_id: str) -> Any:
        if business_id not in zones:
            zones[business_id] = business_time_zones.zone(tx.session, business_id)
        return zones[business_id]

    for category in stricter:
        retention_dues.shorten_category(tx.session, category, policy.by_id(category).retention, zone_of)
    return details


def status(session: Session, now: datetime, days: int = 30) -> list[dict[str, Any]]:
    """What expires when, by category and (UTC) day, over the next `days` days; `overdue` rows are due
    already but not expired (a legal hold keeps them, or no evaluation has run since)."""
    stamp = format_time(now)
    overdue = retention_dues.upcoming(session, until=stamp)
    coming = retention_dues.upcoming(session, since=stamp, until=format_time(now + timedelta(days=days)))
    return [{"day": day, "category": category, "records": count, "overdue": late}
            for late, rows in ((True, overdue), (False, coming)) for category, day, count in rows]
