"""The overview's blocks: each reads a few counts and says, in plain words, whether it is in order.

    blocks = ledger_blocks(now) + feed_blocks(now)     # -> [Block], in the order the page shows them

A block is "ok" or "attention" with one sentence a privacy officer can act on, and a small table.
Nothing in a block names a person: counts, states, times, business mailboxes and job names only.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from dashboard.context import context
from database.engine import read_only
from database.times import format_time, parse_time
from ledger.evidence import Evidence, evidence
from ledger.holds import Hold, active_holds
from ledger.statistics import records_by_state
from state.leases import last_runs
from state.officer_alerts import Alert, open_alerts
from state.retention_dues import upcoming
from state.retention_summary import held_by_category, overdue

HORIZON = timedelta(days=30)
# How long past its due date an item may wait for the retention job before that is news: its
# interval, plus a run's own time. A fresh start (the demo's first minute) is not an alarm.
RUN_ALLOWANCE = timedelta(minutes=15)
VERIFY_EVERY = timedelta(days=7)        # a full verify at least weekly (docs/dashboard.md)
CHECKPOINT_LATE = timedelta(hours=3)    # the scheduler signs one hourly: three missed runs is a fault
HOLD_REVIEW = timedelta(days=7)         # a hold ending this soon is worth a look before it lapses
VERIFY_JOB = "verify"                   # the job name a dashboard verify records its run under


@dataclass(frozen=True)
class Block:
    """One block of the overview: a title, ok or attention, a sentence, a table."""

    title: str
    attention: bool
    summary: str
    columns: tuple[str, ...] = ()
    rows: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "attention" if self.attention else "ok"


def shown(stamp: str | None) -> str:
    """A stored time as a person reads it ("2026-12-01 09:30 UTC"); "never" for None."""
    return "never" if stamp is None else parse_time(stamp).strftime("%Y-%m-%d %H:%M UTC")


def ledger_blocks(now: datetime) -> list[Block]:
    """Records, data by category, legal holds, alerts and integrity."""
    with read_only(context().engine) as connection, Session(bind=connection) as session:
        records, proof = records_by_state(connection), evidence(connection)
        late_before = now - timedelta(minutes=context().settings.RETENTION_INTERVAL_MINUTES) - RUN_ALLOWANCE
        held, late = held_by_category(session), overdue(session, format_time(late_before))
        due_soon = upcoming(session, since=format_time(now), until=format_time(now + HORIZON))
        holds, alerts = active_holds(session, now), open_alerts(session)
    return [records_block(records), categories_block(held, due_soon, late), holds_block(holds, now),
            alerts_block(alerts), integrity_block(proof, now)]


def records_block(records: list[tuple[str, str, int]]) -> Block:
    total = sum(count for _type, _state, count in records)
    active = sum(count for _type, state, count in records if state == "active")
    expired = sum(count for _type, state, count in records if state == "expired")
    summary = f"The ledger knows of {total} Bookings records; {active} are active."
    if expired:
        summary += f" {expired} have expired and wait for anonymisation."
    return Block("Records by state", False, summary, ("Record type", "State", "Records"),
                 [(kind, state, str(count)) for kind, state, count in records])


def categories_block(held: dict[str, int], due_soon: list[tuple[str, str, int]], late: int) -> Block:
    """`due_soon` is `retention_dues.upcoming`'s (category, day, count) of the next 30 days."""
    soon: Counter[str] = Counter()
    for category, _day, count in due_soon:
        soon[category] += count
    summary = (f"{late} items are past their retention date by more than the retention job's interval and "
               "not yet marked expired: check that the job runs (Job runs below), or whether a legal hold "
               "keeps them." if late else
               f"{sum(soon.values())} items come due for retention in the next 30 days.")
    return Block("Data held, by category", bool(late), summary, ("Category", "Held", "Due in 30 days"),
                 [(category, str(count), str(soon[category])) for category, count in held.items()])


def holds_block(holds: list[Hold], now: datetime) -> Block:
    by_scope = Counter(hold.scope for hold in holds)
    ending = [hold for hold in holds if hold.ends_at is not None and hold.ends_at - now <= HOLD_REVIEW]
    summary = f"{len(holds)} legal holds are in force." + (
        f" {len(ending)} end within 7 days: review whether they are still needed." if ending else "")
    return Block("Legal holds", bool(ending), summary, ("Scope", "Active holds"),
                 [(scope, str(count)) for scope, count in sorted(by_scope.items())])


def alerts_block(alerts: list[Alert]) -> Block:
    by_kind = Counter(alert.kind for alert in alerts)
    summary = (f"{len(alerts)} alerts wait for you (for example a subject flagged as a child)." if alerts
               else "No open alerts.")
    return Block("Alerts for the privacy officer", bool(alerts), summary, ("Alert", "Open", "Oldest raised"),
                 [(kind, str(count), shown(min(a.created_at for a in alerts if a.kind == kind)))
                  for kind, count in sorted(by_kind.items())])


def integrity_block(proof: Evidence, now: datetime) -> Block:
    """The last full verify and checkpoint, and a failed verify the dashboard ran since."""
    verify, checkpoint = proof.last_verify, proof.last_checkpoint
    failed = last_failed_verify(since=verify.verified_at if verify else "")
    rows = [("Entries in the ledger", str(proof.entries)),
            ("Last successful verify", shown(verify.verified_at if verify else None)),
            ("Last checkpoint", f"{checkpoint.size} entries, {shown(checkpoint.created_at)}" if checkpoint else "none")]
    if failed is not None:
        summary = f"The last verification found the ledger tampered{failed}. Tell your security team."
    elif verify is None:
        summary = "The ledger has never been verified: run a verification on the Integrity page."
    elif now - parse_time(verify.verified_at) > VERIFY_EVERY:
        summary = "The last verification is more than a week old: run one on the Integrity page."
    elif checkpoint is None or now - parse_time(checkpoint.created_at) > CHECKPOINT_LATE:
        summary = "No checkpoint was signed in the last 3 hours: check that the scheduler runs."
    else:
        return Block("Ledger integrity", False, f"Verified intact on {shown(verify.verified_at)}.", ("Evidence", "State"), rows)
    return Block("Ledger integrity", True, summary, ("Evidence", "State"), rows)


def last_failed_verify(*, since: str) -> str | None:
    """" at entry N" (or "") when the newest verify run the dashboard recorded, at or after `since`, failed; else None."""
    runs = last_runs(context().engine, VERIFY_JOB, limit=1)
    if not runs or runs[0].outcome != "failed" or runs[0].started_at < since:
        return None
    bad_seq = json.loads(runs[0].detail or "{}").get("bad_seq")
    return f" at entry {bad_seq}" if bad_seq is not None else ""
