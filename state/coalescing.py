"""Turns at coalesced work: one at a time per key, then a quiet period, recorded in the database.

A burst of lifecycle events or of notifications about unknown events can become thousands of
inbox rows; each asks for the same piece of work (reauthorize this subscription, sweep this
business, list this business's horizon). Whoever takes the key's turn does it once; the others
wait for the turn's end and then find the work done. The decision lives in a `job_leases` row
(state/leases.py) named after the key, not in a worker's memory, so it holds across restarts
and across any number of workers on PostgreSQL:

    holder      `turn-…` while a turn runs, then `done` or `failed`
    heartbeat_at when the latest turn started (so, for a `done` row, the start of the last
                completed turn: work done then covers every request that arrived before it)
    lease_until while running, the latest the turn may hold it (a worker that died frees it
                then); after it, the end of the quiet period

    turn = take_turn(engine, key, now, hold=timedelta(minutes=10))   # None: not yours now
    ...the work...
    end_turn(engine, turn, quiet_until=now + cool_down, done=True)
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.orm import Session

from database.times import format_time, parse_time
from state.leases import JobLease, acquire_lease

KEY_LENGTH = 64   # job_leases.name
DONE, FAILED = "done", "failed"


@dataclass(frozen=True)
class Turn:
    """A turn this caller holds at the work named `key`, taken at `started`."""

    key: str
    holder: str
    started: datetime


def turn_key(purpose: str, ident: str) -> str:
    """The lease name for `purpose` on one subscription or business; long ids are hashed to fit."""
    key = f"{purpose}:{ident}"
    if len(key) <= KEY_LENGTH:
        return key
    # A mailbox address may be 320 characters; 40 hex digits keep keys apart all the same.
    return f"{purpose}:{hashlib.sha256(ident.encode()).hexdigest()[:40]}"


def take_turn(engine: Engine, key: str, now: datetime, *, hold: timedelta) -> Turn | None:
    """This caller's turn at `key`, held for at most `hold`; None while another turn or a quiet period lasts."""
    holder = f"turn-{secrets.token_hex(8)}"
    return Turn(key, holder, now) if acquire_lease(engine, key, holder, now, hold) else None


def end_turn(bind: Engine | Session, turn: Turn, *, quiet_until: datetime, done: bool) -> bool:
    """End the turn as done (or failed); no turn starts before `quiet_until`. False if it had already ended.

    `bind` may be a session, so that "done" commits with the work it stands for, or not at all.
    """
    statement = (update(JobLease).where(JobLease.name == turn.key, JobLease.holder == turn.holder)
                 .values(holder=DONE if done else FAILED, lease_until=format_time(quiet_until)))
    if isinstance(bind, Session):
        return bool(bind.execute(statement).rowcount)
    with bind.begin() as connection:
        return bool(connection.execute(statement).rowcount)


def last_done(engine: Engine, key: str) -> datetime | None:
    """When the last completed turn at `key` started; None while a turn runs, after a failure, or before any."""
    with engine.connect() as connection:
        row = _row(connection, key)
    return parse_time(row.heartbeat_at) if row is not None and row.holder == DONE else None


def next_turn(engine: Engine, key: str) -> datetime | None:
    """The earliest a new turn at `key` may start (None: at once)."""
    with engine.connect() as connection:
        row = _row(connection, key)
    return parse_time(row.lease_until) if row is not None else None


def _row(connection: Connection, key: str):  # type: ignore[no-untyped-def]
    return connection.execute(select(JobLease.holder, JobLease.heartbeat_at, JobLease.lease_until)
                              .where(JobLease.name == key)).first()
