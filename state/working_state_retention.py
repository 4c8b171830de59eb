"""Retention of the working state: done inbox rows, job runs and filled gaps are purged when old.

    purged = purge_working_state(engine, now, WorkingStateRetention(...))   # {"inbox_done": n, ...}

What goes, and why it may:
- a `done` inbox row (by when it was done) has served its only purposes: its digest drops
  Graph's re-sends, which stop within 4 hours (graph-facts §2.6), and `/metrics` reads the
  last 5 minutes of processing. A re-send after the purge is processed again, which the Ingestor
  makes harmless;
- a job run (by when it finished, or started if it never did: a crash) is operational history;
- a filled gap (by when it was filled): the tamper-evident record of it is its `sync-gap` and
  `sync-gap-filled` ledger entries, which are never purged;
- a dashboard session past its absolute or idle deadline (state/dashboard_sessions.py): it can
  never be used again, and it names who was signed in;
- an identity challenge used, spent or expired, and a portal link used or expired
  (state/verification.py, state/portal_links.py): they can never verify or open again.
What stays: `pending` rows, and `parked` rows until a person acts on them; gaps not yet filled.

Rows go in chunks of PURGE_CHUNK, each its own short transaction, so a first purge of a large
backlog never holds SQLite's write lock (or many PostgreSQL row locks) for long.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, and_, delete, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from database.times import format_time
from state.dashboard_sessions import purge_expired_sessions
from state.inbox import InboxRow
from state.leases import JobRun
from state.portal_links import purge_finished_links
from state.verification import purge_finished_challenges
from state.watermarks import SyncGap

PURGE_CHUNK = 5000


@dataclass(frozen=True)
class WorkingStateRetention:
    """How long each kind of finished working state is kept."""

    done_inbox_rows: timedelta
    job_runs: timedelta
    filled_gaps: timedelta


def purge_working_state(engine: Engine, now: datetime, retention: WorkingStateRetention) -> dict[str, int]:
    """Delete finished working state older than its retention; how many rows of each kind went."""
    done_before = format_time(now - retention.done_inbox_rows)
    # Rows done before migration 0006 have no processed_at: their arrival is the best bound.
    inbox_done = and_(InboxRow.state == "done", or_(
        InboxRow.processed_at < done_before, and_(InboxRow.processed_at.is_(None), InboxRow.received_at < done_before)))
    runs = func.coalesce(JobRun.finished_at, JobRun.started_at) < format_time(now - retention.job_runs)
    gaps = SyncGap.filled_at < format_time(now - retention.filled_gaps)
    return {"inbox_done": _purge(engine, InboxRow.id, inbox_done),
            "job_runs": _purge(engine, JobRun.id, runs),
            "filled_gaps": _purge(engine, SyncGap.id, gaps),
            "dashboard_sessions": purge_expired_sessions(engine, now),
            "verification_challenges": purge_finished_challenges(engine, now),
            "portal_links": purge_finished_links(engine, now)}


def _purge(engine: Engine, key: InstrumentedAttribute[int], condition: ColumnElement[bool]) -> int:
    """Delete the rows matching `condition`, PURGE_CHUNK at a time; how many."""
    total = 0
    while True:
        with engine.begin() as connection:
            ids = list(connection.scalars(select(key).where(condition).order_by(key).limit(PURGE_CHUNK)))
            if ids:
                connection.execute(delete(key.class_).where(key.in_(ids)))
        total += len(ids)
        if len(ids) < PURGE_CHUNK:
            return total
