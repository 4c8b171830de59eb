"""Gap evidence in the ledger: each window of possibly lost notifications, and its back-fill.

The `sync_gaps` table (state/watermarks.py) is what the jobs query; the `sync-gap` and
`sync-gap-filled` entries are the tamper-evident record of the same facts, written in the same
transaction. Both hold the business id (a booking mailbox, not a person) and times only.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from ledger.transactions import Ledger, LedgerTransaction
from database.times import format_time
from state.watermarks import complete_sweep, record_gap, sync_status


def record(ledger: Ledger, business_id: str, *, reason: str, start: datetime, end: datetime,
           subscription_id: str | None = None) -> int:
    """Record a gap and its `sync-gap` entry; returns the gap's id."""
    with ledger.transaction() as tx:
        return record_in(tx, business_id, reason=reason, start=start, end=end, subscription_id=subscription_id)


def record_in(tx: LedgerTransaction, business_id: str, *, reason: str, start: datetime, end: datetime,
              subscription_id: str | None = None) -> int:
    """`record` inside the caller's transaction, so the gap commits with what it accounts for."""
    gap = record_gap(tx.session, business_id, reason=reason, start=start, end=end, now=tx.clock(),
                     subscription_id=subscription_id)
    tx.append("sync-gap", gap=gap.id, business=business_id, reason=reason, start=gap.start, end=gap.end,
              subscription=subscription_id)
    return gap.id


def finish_sweep(ledger: Ledger, business_id: str, *, started: datetime, appointments: int, changes: int) -> list[int]:
    """Advance the business's watermark to `started`, close the gaps it back-fills; their ids."""
    with ledger.transaction() as tx:
        filled = complete_sweep(tx.session, business_id, started=started, now=ledger.clock(),
                                appointments=appointments, changes=changes)
        if filled:
            tx.append("sync-gap-filled", business=business_id, gaps=[gap.id for gap in filled],
                      sweep_started=format_time(started), changes=changes)
        return [gap.id for gap in filled]


def businesses_with_open_gaps(engine: Engine, businesses: list[str]) -> list[str]:
    """The businesses among `businesses` with a gap not yet back-filled."""
    return [status.business_id for status in sync_status(engine, businesses) if status.open_gaps]
