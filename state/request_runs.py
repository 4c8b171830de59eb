"""Runs of data-subject requests: the officer's intent to run one, and its persisted steps.

    request_runs       one row per request queued to run: who queued it and when, the officer's
                       choice per future appointment (`cancel` with a message, or `keep`), and its
                       state queued -> running -> done | failed
    request_run_steps  one row per step of a run ("start", "cancel:<appointment>", "plan",
                       "anonymise", "erase:<subject>", "rectify:<surface>:<id>", "complete" …):
                       pending | sending | done | failed, with its evidence (ids, codes, statuses)

The dashboard and the API only queue (`queue_run`); jobs/requests carries the run out. A step is
written `sending` (committed) before its Graph write leaves and `done` after, so a run killed in
between finds `sending` and settles it by reading Graph back, never by writing twice. No personal
data here: ids, choices, states, request ids of Graph and status codes. Migration 0023_request_runs.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import NAME, REF, TIME, Base
from database.times import format_time

CHOICES = ("cancel", "keep")
RUN_STATES = ("queued", "running", "done", "failed")
STEP_STATES = ("pending", "sending", "done", "failed")


class RequestRun(Base):
    """One request queued to run."""

    __tablename__ = "request_runs"
    request_id: Mapped[str] = mapped_column(REF, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    queued_by: Mapped[str] = mapped_column(NAME)
    queued_at: Mapped[str] = mapped_column(TIME)
    choices: Mapped[str] = mapped_column(Text, default="{}")   # JSON: appointment id -> cancel | keep
    detail: Mapped[str | None] = mapped_column(String(200))    # why it failed: ids and codes only
    updated_at: Mapped[str] = mapped_column(TIME)


class RequestRunStep(Base):
    """One step of a run, with its evidence."""

    __tablename__ = "request_run_steps"
    request_id: Mapped[str] = mapped_column(REF, primary_key=True)
    step: Mapped[str] = mapped_column(String(600), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    evidence: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[str] = mapped_column(TIME)


@dataclass(frozen=True)
class QueuedRun:
    """A run as plain values."""

    request_id: str
    state: str
    queued_by: str
    queued_at: str
    choices: dict[str, str]
    detail: str | None = None       # why it failed: a code


def queue_run(session: Session, request_id: str, by: str, now: datetime,
              choices: Mapping[str, str] | None = None) -> QueuedRun:
    """Queue the request to run (the caller asked `ledger.requests.why_not_startable` first); queuing
    again before it ran, or after it failed, replaces the choices; a done or running run is left as it is."""
    wanted = dict(choices or {})
    bad = sorted({c for c in wanted.values() if c not in CHOICES})
    if bad:
        raise ValueError(f"a future appointment is either {' or '.join(CHOICES)}, not {', '.join(bad)}")
    row = session.get(RequestRun, request_id, with_for_update=True)
    stamp = format_time(now)
    if row is None:
        row = RequestRun(request_id=request_id, state="queued", queued_by=by, queued_at=stamp,
                         choices=json.dumps(wanted, sort_keys=True), updated_at=stamp)
        session.add(row)
    elif row.state in ("queued", "failed"):
        # A failed run (refused by the gate, say) is queued afresh once the officer has acted on it.
        row.state, row.detail = "queued", None
        row.queued_by, row.queued_at, row.choices, row.updated_at = by, stamp, json.dumps(wanted, sort_keys=True), stamp
    session.flush()
    return _plain(row)


def queued_runs(session: Session) -> list[QueuedRun]:
    """Runs not finished (queued, or running when a crash interrupted them), oldest first."""
    query = select(RequestRun).where(RequestRun.state.in_(("queued", "running"))).order_by(
        RequestRun.queued_at, RequestRun.request_id)
    return [_plain(row) for row in session.scalars(query)]


def run(session: Session, request_id: str) -> QueuedRun | None:
    """The request's run, if it was queued."""
    row = session.get(RequestRun, request_id, populate_existing=True)
    return None if row is None else _plain(row)


def set_state(session: Session, request_id: str, state: str, now: datetime, *, detail: str | None = None) -> None:
    """Move the run to `state`."""
    if state not in RUN_STATES:
        raise ValueError(f"a run's state is one of {RUN_STATES}")
    row = session.get(RequestRun, request_id)
    if row is None:
        raise LookupError(f"request {request_id} was not queued")
    row.state, row.detail, row.updated_at = state, detail, format_time(now)
    session.flush()


def settle_choices(session: Session, request_id: str, choices: Mapping[str, str]) -> None:
    """Fix the run's choice for each of its future appointments (the officer's, or the default),
    once its plan is made: the anonymiser reads them (`kept_appointments`) while the run is open."""
    row = session.get(RequestRun, request_id)
    if row is None:
        raise LookupError(f"request {request_id} was not queued")
    row.choices = json.dumps(dict(choices), sort_keys=True)
    session.flush()


def kept_appointments(session: Session, appointment_ids: list[str]) -> set[str]:
    """Of these appointments, those an officer chose to keep (anonymised in place) in an open run."""
    wanted = set(appointment_ids)
    rows = session.scalars(select(RequestRun.choices).where(RequestRun.state.in_(("queued", "running"))))
    return {a for choices in rows for a, c in json.loads(choices).items() if c == "keep" and a in wanted}


def steps(session: Session, request_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Step name -> (state, evidence) of the request's run."""
    rows = session.scalars(select(RequestRunStep).where(RequestRunStep.request_id == request_id)
                           .execution_options(populate_existing=True))
    return {row.step: (row.state, json.loads(row.evidence)) for row in rows}


def record_step(session: Session, request_id: str, step: str, state: str, now: datetime,
                evidence: Mapping[str, Any] | None = None) -> None:
    """Write a step's state (evidence given replaces what was there)."""
    if state not in STEP_STATES:
        raise ValueError(f"a step's state is one of {STEP_STATES}")
    row = session.get(RequestRunStep, (request_id, step))
    if row is None:
        row = RequestRunStep(request_id=request_id, step=step, evidence="{}")
        session.add(row)
    row.state, row.updated_at = state, format_time(now)
    if evidence is not None:
        row.evidence = json.dumps(dict(evidence), sort_keys=True)
    session.flush()


def _plain(row: RequestRun) -> QueuedRun:
    return QueuedRun(row.request_id, row.state, row.queued_by, row.queued_at, json.loads(row.choices or "{}"), row.detail)
