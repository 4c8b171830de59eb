"""What a soak run leaves behind for whoever reads a failed check: the emulator's subscription
history, every job run, every anonymisation operation with its steps (their evidence: actions, Graph's statuses and
request ids), and each chain entry's
kind, refs, subject and time (their bodies hold no personal value, by the ledger's design), written as JSON into the run's work directory before its databases are dropped.

Ids, states, counts and instants only, as everything the service logs: nothing here names a person.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select

from run_state import SoakRun


def save_evidence(run: SoakRun, work: Path) -> Path:
    """Write evidence.json into `work`; its path."""
    from ledger.models import LedgerEntry
    from state.anonymisation import AnonymisationOperation, AnonymisationStep
    from state.leases import JobRun

    engine = create_engine(run.settings["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            jobs = [dict(row._mapping) for row in connection.execute(
                select(JobRun.id, JobRun.job, JobRun.holder, JobRun.started_at, JobRun.finished_at, JobRun.outcome,
                       JobRun.detail).order_by(JobRun.id))]
            operations = [dict(row._mapping) for row in connection.execute(
                select(AnonymisationOperation.id, AnonymisationOperation.object_type, AnonymisationOperation.object_id,
                       AnonymisationOperation.subject_ref, AnonymisationOperation.cause, AnonymisationOperation.state,
                       AnonymisationOperation.revision, AnonymisationOperation.detail, AnonymisationOperation.created_at,
                       AnonymisationOperation.updated_at))]
            steps = [dict(row._mapping) for row in connection.execute(
                select(AnonymisationStep.operation_id, AnonymisationStep.step, AnonymisationStep.state,
                       AnonymisationStep.attempts, AnonymisationStep.revision, AnonymisationStep.updated_at,
                       AnonymisationStep.evidence))]
            entries = [_outline(row.seq, json.loads(row.body)) for row in connection.execute(
                select(LedgerEntry.seq, LedgerEntry.body).order_by(LedgerEntry.seq))]
    finally:
        engine.dispose()
    history = httpx.get(f"{run.emulator_url}/_emulator/subscriptions/history", timeout=120).json()
    evidence: dict[str, Any] = {
        "seed": run.seed, "started": run.started.isoformat(), "ended": run.ended.isoformat(),
        "watermark_samples": [(moment.isoformat(), lag) for moment, lag in run.watermark_samples],
        "subscriptions": history, "job_runs": jobs, "operations": operations, "steps": steps,
        "entries": entries,
    }
    path = work / "evidence.json"
    path.write_text(json.dumps(evidence, indent=1, default=str))
    return path


def _outline(seq: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"seq": seq, **{k: body.get(k) for k in ("kind", "time", "subject", "refs", "operation", "categories", "reason")}}
