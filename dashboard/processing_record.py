"""The record of processing activities (GDPR Art. 30): a printable page and its CSV.

Built once at start from the retention policy and PROCESSING_RECORD_FILE (dashboard.processing_activities),
so a broken record file stops the start with one line naming the field, as a broken policy does.
"""
from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, current_app, render_template
from flask.blueprints import BlueprintSetupState

from config.processing_record import load_processing_record
from dashboard.context import EXTENSION
from dashboard.processing_activities import ProcessingRecord, build_record, csv_rows
from dashboard.roles import AUDITOR, PRIVACY_OFFICER, allow

bp = Blueprint("processing_record", __name__)
RECORD = "bookings_ledger.processing_record"


@bp.record_once
def _load(state: BlueprintSetupState) -> None:
    context = state.app.extensions[EXTENSION]
    file = load_processing_record(context.settings.PROCESSING_RECORD_FILE, context.policy)
    state.app.extensions[RECORD] = build_record(context.policy, file)


def _record() -> ProcessingRecord:
    return current_app.extensions[RECORD]


@bp.get("/processing-record")
@allow(PRIVACY_OFFICER, AUDITOR)
def record_page() -> str:
    """The record, one activity per category of the policy, with its version and digest."""
    return render_template("processing_record/record.html", record=_record())


@bp.get("/processing-record.csv")
@allow(PRIVACY_OFFICER, AUDITOR)
def record_csv() -> Response:
    """The record as CSV: one row per activity, the columns of Art. 30(1)(a)-(g)."""
    record = _record()
    buffer = io.StringIO()
    csv.writer(buffer).writerows(csv_rows(record))
    filename = f"processing-record-{record.policy.policy_version}-{record.digest[:12]}.csv"
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
