"""The ledger's integrity: the last full verify and checkpoint, a verify on demand, the checkpoint note.

POST /integrity/verify runs what `bookings-ledger verify` runs (ledger.integrity.verify_with_settings:
every entry re-hashed from seq 1, every checkpoint checked) and records the run in `job_runs` as the
job `verify`, so the overview can say when a verify found the ledger tampered, which `verify_state`
(written on success only) cannot.
"""
from __future__ import annotations

from flask import Blueprint, Response, render_template

from config import SettingsError
from dashboard.context import context
from dashboard.overview_blocks import VERIFY_JOB, shown
from dashboard.roles import AUDITOR, PRIVACY_OFFICER, allow
from database.engine import read_only
from ledger.checkpoint_store import checkpoint_file_name
from ledger.evidence import evidence, last_checkpoint
from ledger.integrity import VerifyResult, verify_with_settings
from state.leases import finish_run, last_runs, start_run

bp = Blueprint("integrity", __name__)
HOLDER = "dashboard"   # job_runs' holder of a verify run from here (the user is in the session, not the run)


@bp.get("/integrity")
@allow(PRIVACY_OFFICER, AUDITOR)
def integrity_page() -> str:
    """The evidence as it stands, the verifier key, and the verify button."""
    return _page(result=None, problem=None)


@bp.post("/integrity/verify")
@allow(PRIVACY_OFFICER, AUDITOR)
def verify() -> str:
    """Verify the whole ledger now and show the outcome (intact, or tampered at the first bad entry)."""
    engine, clock = context().engine, context().clock
    run_id = start_run(engine, VERIFY_JOB, HOLDER, clock())
    try:
        result = verify_with_settings(engine, context().settings, clock=clock)
    except SettingsError as exc:
        # A setting, not the ledger, is wrong: the message names it (never any data).
        finish_run(engine, run_id, clock(), outcome="failed", detail={"settings": True})
        return _page(result=None, problem=str(exc))
    finish_run(engine, run_id, clock(), outcome="ok" if result.ok else "failed",
               detail={"entries": result.entries, "checkpoints": result.checkpoints, "bad_seq": result.bad_seq})
    return _page(result=result, problem=None)


@bp.get("/integrity/checkpoint")
@allow(PRIVACY_OFFICER, AUDITOR)
def checkpoint() -> Response | tuple[str, int]:
    """The latest signed checkpoint note, as `checkpoint export` writes it, for the auditor to keep."""
    with read_only(context().engine) as connection:
        latest = last_checkpoint(connection)
    if latest is None:
        return render_template("dashboard/refused.html", reason="No checkpoint has been signed yet."), 404
    response = Response(latest.note, mimetype="text/plain")
    response.headers["Content-Disposition"] = f'attachment; filename="{checkpoint_file_name(latest.size, latest.id)}"'
    return response


def _page(*, result: VerifyResult | None, problem: str | None) -> str:
    with read_only(context().engine) as connection:
        proof = evidence(connection)
    runs = last_runs(context().engine, VERIFY_JOB, limit=5)
    return render_template("integrity/integrity.html", proof=proof, result=result, problem=problem, runs=runs,
                           verifier_key=context().settings.CHECKPOINT_VERIFIER_KEY, shown=shown)
