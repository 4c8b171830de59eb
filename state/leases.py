"""Leases that keep two processes from doing the same work, and the record of each job run.

    job_leases  one row per named lease: who holds it and until when. Taking one is a single
                conditional UPDATE (or an INSERT that loses on conflict), so on SQLite and on
                PostgreSQL exactly one contender wins, without holding a transaction open.
    job_runs    each scheduled job's start, finish, outcome and figures; a run with no finish
                is one that crashed, and the next run simply starts over from the database's state.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Integer, String, Text, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.times import format_time
from database.base import TIME, Base


class JobLease(Base):
    """A named lease: `holder` owns it until `lease_until`."""

    __tablename__ = "job_leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    lease_until: Mapped[str] = mapped_column(TIME)
    heartbeat_at: Mapped[str] = mapped_column(TIME)


class JobRun(Base):
    """One run of a scheduled job."""

    __tablename__ = "job_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64), index=True)
    holder: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[str] = mapped_column(TIME)
    finished_at: Mapped[str | None] = mapped_column(TIME)
    outcome: Mapped[str] = mapped_column(String(16))      # running | ok | failed
    detail: Mapped[str | None] = mapped_column(Text)


def acquire_lease(engine: Engine, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or extend the lease `name` for `holder`; False while someone else holds it."""
    stamp, until = format_time(now), format_time(now + ttl)
    with engine.begin() as connection:
        taken = connection.execute(
            update(JobLease)
            .where(JobLease.name == name, (JobLease.holder == holder) | (JobLease.lease_until <= stamp))
            .values(holder=holder, lease_until=until, heartbeat_at=stamp)
        ).rowcount
        if taken:
            return True
        connection.execute(_insert_if_absent(engine.dialect.name, name, holder, until, stamp))
        # Read back rather than trust the INSERT's rowcount, which psycopg leaves at -1 for
        # ON CONFLICT DO NOTHING: whoever's row is there now holds the lease.
        owner = connection.execute(select(JobLease.holder).where(JobLease.name == name)).scalar()
    return owner == holder


def _insert_if_absent(dialect: str, name: str, holder: str, until: str, stamp: str) -> Any:
    # The first contender's INSERT wins; the others' conflict is ignored and they report False.
    from sqlalchemy.dialects import postgresql, sqlite

    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    return insert(JobLease).values(name=name, holder=holder, lease_until=until, heartbeat_at=stamp) \
        .on_conflict_do_nothing(index_elements=["name"])


def release_lease(engine: Engine, name: str, holder: str, now: datetime) -> None:
    """Give the lease up at once (a clean shutdown), if `holder` still holds it."""
    with engine.begin() as connection:
        connection.execute(
            update(JobLease).where(JobLease.name == name, JobLease.holder == holder)
            .values(lease_until=format_time(now))
        )


def last_heartbeat(engine: Engine, name: str) -> str | None:
    """When the lease's holder last took or extended it, whoever that was."""
    with engine.connect() as connection:
        return connection.execute(select(JobLease.heartbeat_at).where(JobLease.name == name)).scalar()


def start_run(engine: Engine, job: str, holder: str, now: datetime) -> int:
    """Record that a job run started; returns its id."""
    with Session(engine) as session, session.begin():
        run = JobRun(job=job, holder=holder, started_at=format_time(now), outcome="running")
        session.add(run)
        session.flush()
        return run.id


def finish_run(engine: Engine, run_id: int, now: datetime, *, outcome: str, detail: dict[str, Any]) -> None:
    """Record how a job run ended, with its figures (ids and counts only: no personal data)."""
    with Session(engine) as session, session.begin():
        run = session.get(JobRun, run_id)
        run.finished_at, run.outcome, run.detail = format_time(now), outcome, json.dumps(detail, sort_keys=True)


def last_success(engine: Engine, job: str) -> str | None:
    """When the job's last successful run started (None before the first)."""
    with engine.connect() as connection:
        return connection.execute(select(func.max(JobRun.started_at)).where(JobRun.job == job, JobRun.outcome == "ok")).scalar()


def last_runs(engine: Engine, job: str, limit: int = 10) -> list[JobRun]:
    """The most recent runs of a job, newest first."""
    with Session(engine) as session:
        return list(session.scalars(select(JobRun).where(JobRun.job == job).order_by(JobRun.id.desc()).limit(limit)))


def job_names(engine: Engine) -> list[str]:
    """Every job that has a recorded run, by name."""
    with engine.connect() as connection:
        return list(connection.execute(select(JobRun.job).distinct().order_by(JobRun.job)).scalars())


def lease_of(engine: Engine, name: str) -> JobLease | None:
    """The lease `name` as stored (who holds it, until when), or None if never taken."""
    with Session(engine) as session:
        return session.get(JobLease, name)
