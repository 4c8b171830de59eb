"""The working state's retention: finished rows go when old, pending and parked rows never."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from state import working_state_retention
from state.inbox import InboxItem, InboxRow, accept, fail, finish
from state.leases import JobRun, finish_run, start_run
from state.working_state_retention import WorkingStateRetention, purge_working_state
from state.watermarks import SyncGap, complete_sweep, record_gap

AGES = WorkingStateRetention(done_inbox_rows=timedelta(days=7), job_runs=timedelta(days=30),
                             filled_gaps=timedelta(days=90))


def _inbox(db: Engine, clock, *names: str) -> dict[str, int]:
    """One change row per name, received now; their ids by name."""
    items = [InboxItem("change", "sub-1", "updated", "users/b/events/e", name, name) for name in names]
    accept(db, items, clock())
    with Session(db) as session:
        return {row.resource_id: row.id for row in session.scalars(select(InboxRow))}


def _set(db: Engine, clock, ids: dict[str, int], *, done: list[str] = (), parked: list[str] = ()) -> None:
    with Session(db) as session, session.begin():
        for name in done:
            finish(session, session.get(InboxRow, ids[name]), clock())
        for name in parked:
            row = session.get(InboxRow, ids[name])
            row.attempts = 7
            fail(session, row, clock(), "Unavailable (HTTP 503) reading appointment")


def _states(db: Engine) -> dict[str, str]:
    with Session(db) as session:
        return {row.resource_id: row.state for row in session.scalars(select(InboxRow))}


def test_done_inbox_rows_go_after_their_age_and_parked_and_pending_rows_stay(db: Engine, clock) -> None:
    """Done rows older than the age are purged; a parked or pending row stays however old it is."""
    ids = _inbox(db, clock, "old-done", "old-parked", "old-pending", "new-done")
    _set(db, clock, ids, done=["old-done"], parked=["old-parked"])
    clock.advance(days=7, hours=1)
    _set(db, clock, ids, done=["new-done"])
    purged = purge_working_state(db, clock(), AGES)
    assert purged["inbox_done"] == 1
    assert _states(db) == {"old-parked": "parked", "old-pending": "pending", "new-done": "done"}
    clock.advance(days=365)
    purge_working_state(db, clock(), AGES)
    assert _states(db) == {"old-parked": "parked", "old-pending": "pending"}


def test_a_done_row_from_before_processing_times_goes_by_its_arrival(db: Engine, clock) -> None:
    """Rows done before migration 0006 have no processed_at: their arrival time bounds them."""
    ids = _inbox(db, clock, "legacy")
    with Session(db) as session, session.begin():
        session.get(InboxRow, ids["legacy"]).state = "done"
    clock.advance(days=8)
    assert purge_working_state(db, clock(), AGES)["inbox_done"] == 1 and _states(db) == {}


def test_job_runs_go_after_their_age_crashed_ones_by_their_start(db: Engine, clock) -> None:
    """Finished runs by their finish, a run that never finished (a crash) by its start."""
    old = start_run(db, "reconcile", "s1", clock())
    finish_run(db, old, clock(), outcome="ok", detail={})
    start_run(db, "reconcile", "s1", clock())   # crashed: never finished
    clock.advance(days=29)
    recent = start_run(db, "reconcile", "s1", clock())
    finish_run(db, recent, clock(), outcome="failed", detail={"error": "Unavailable"})
    clock.advance(days=2)
    assert purge_working_state(db, clock(), AGES)["job_runs"] == 2
    with Session(db) as session:
        assert session.scalars(select(JobRun.id)).all() == [recent]


def test_filled_gaps_go_after_their_age_and_open_ones_never(db: Engine, clock) -> None:
    """A gap back-filled long ago is purged from sync_gaps; a gap still open stays."""
    now = clock()
    with Session(db) as session, session.begin():
        filled = record_gap(session, "b@contoso.com", reason="missed", start=now - timedelta(hours=1), end=now, now=now)
        filled_id = filled.id
        complete_sweep(session, "b@contoso.com", started=now + timedelta(minutes=1), now=now + timedelta(minutes=5),
                       appointments=0, changes=0)
        open_gap = record_gap(session, "b@contoso.com", reason="lapsed", start=now, end=now + timedelta(days=400),
                              now=now)
        open_id = open_gap.id
    clock.advance(days=89)
    assert purge_working_state(db, clock(), AGES)["filled_gaps"] == 0
    clock.advance(days=2)
    assert purge_working_state(db, clock(), AGES)["filled_gaps"] == 1
    with Session(db) as session:
        assert session.scalars(select(SyncGap.id)).all() == [open_id] and filled_id != open_id


def test_a_large_backlog_is_purged_in_chunks(db: Engine, clock, monkeypatch) -> None:
    """More rows than a chunk: all go, each chunk in its own transaction."""
    monkeypatch.setattr(working_state_retention, "PURGE_CHUNK", 7)
    names = [f"e{i}" for i in range(30)]
    ids = _inbox(db, clock, *names)
    _set(db, clock, ids, done=names[:25])
    clock.advance(days=8)
    assert purge_working_state(db, clock(), AGES)["inbox_done"] == 25
    assert sorted(_states(db)) == sorted(names[25:])
