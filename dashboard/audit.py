"""The audit log: who viewed or exported what, from the chain's `viewed` and `exported` entries, newest first.

The chain names actors by id (`entra:<oid>`, `local:<name>`), never by name; the page shows the ids,
and "you" beside the signed-in user's own. The viewer's IP address, user agent and reason are
their personal data (ledger/views.py) and are not shown here.
"""
from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy.orm import Session

from dashboard.context import context
from dashboard.entries import audit_entries
from dashboard.roles import AUDITOR, PRIVACY_OFFICER, allow

bp = Blueprint("audit", __name__)
PAGE_SIZE = 50


@bp.get("/audit")
@allow(PRIVACY_OFFICER, AUDITOR)
def audit_page() -> str:
    actor = request.args.get("actor", "").strip() or None
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    with Session(context().engine) as session:
        rows, more = audit_entries(session, actor=actor, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    return render_template("audit/log.html", rows=rows, more=more, page=page, actor=actor or "")
