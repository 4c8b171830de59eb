"""Search by email or phone, a subject's timeline, and its personal data in clear (an audited view).

Identifiers are searched through the blind index only, and only in a POST body: they never sit in
a URL, a log line or the browser's history, and the results page does not repeat them. The subject
page shows what the ledger knows without decrypting; the clear view needs a reason from everyone
and is recorded (`viewed`, dashboard/viewing.py) before a value is rendered.
"""
from __future__ import annotations

import re

from flask import Blueprint, Response, abort, make_response, render_template, request
from sqlalchemy.orm import Session

from dashboard import subject_facts
from dashboard.context import context
from dashboard.entries import subject_entries
from dashboard.roles import AUDITOR, PRIVACY_OFFICER, allow, shows_personal_data
from dashboard.sessions import current_user
from dashboard.viewing import show_personal_data
from ledger.encryption import VaultError
from ledger.erasure import ErasedSubject
from ledger.identifiers import IdentifierError
from ledger.views import UnknownSubject, ViewRefused

bp = Blueprint("subjects", __name__)
SUBJECT_REF = re.compile(r"^[0-9a-f]{32}$")
DESTROYED_KINDS = ("category-key-destroyed", "key-destroyed")
# The purpose code a view is recorded under: the officer reviews, the auditor audits.
PURPOSES = {PRIVACY_OFFICER: "review", AUDITOR: "audit"}


@bp.get("/subjects")
@allow(PRIVACY_OFFICER, AUDITOR)
def search_page() -> str:
    return render_template("subjects/search.html", results=None, error=None)


@bp.post("/subjects")
@allow(PRIVACY_OFFICER, AUDITOR)
def search() -> tuple[str, int]:
    email = request.form.get("email", "").strip() or None
    phone = request.form.get("phone", "").strip() or None
    if email is None and phone is None:
        return render_template("subjects/search.html", results=None, error="Enter an email address or a phone number."), 400
    try:
        with context().ledger.transaction() as tx:
            refs = tx.find_subjects(email=email, phone=phone)
            results = subject_facts.summaries(tx.session, refs)
    except IdentifierError:
        # Never the value itself: it would land in the page, and from there in screenshots and caches.
        error = "That is not an email address or phone number that can be searched for. Check it and try again."
        return render_template("subjects/search.html", results=None, error=error), 400
    return render_template("subjects/search.html", results=results, error=None), 200


@bp.get("/subjects/<ref>")
@allow(PRIVACY_OFFICER, AUDITOR)
def subject_page(ref: str) -> str:
    return _subject_page(ref, error=None)[0]


@bp.post("/subjects/<ref>/personal-data")
@allow(PRIVACY_OFFICER, AUDITOR)
@shows_personal_data
def reveal(ref: str) -> Response | tuple[str, int]:
    if not SUBJECT_REF.match(ref):
        abort(404)
    reason = request.form.get("reason", "")
    try:
        shown = show_personal_data(ref, purpose=_purpose(), reason=reason)
    except ViewRefused:
        return _subject_page(ref, error="Give a reason to see this subject's personal data.", status=400)
    except UnknownSubject:
        abort(404)
    except ErasedSubject:
        return _personal_data_page(ref, values=None, notice="This subject was erased: no personal data of it is held.")
    except VaultError:
        return _personal_data_page(ref, values=None, notice="An erasure of this subject's data is under way: try again shortly.")
    return _personal_data_page(ref, values=shown.values, notice=None)


def _subject_page(ref: str, *, error: str | None, status: int = 200) -> tuple[str, int]:
    if not SUBJECT_REF.match(ref):
        abort(404)
    dashboard = context()
    with Session(dashboard.engine) as session:
        facts = subject_facts.facts(session, ref, dashboard.clock())
        if facts is None:
            abort(404)
        timeline = subject_entries(session, ref)
    return render_template("subjects/subject.html", facts=facts, timeline=timeline, error=error), status


def _personal_data_page(ref: str, *, values: dict[str, str] | None, notice: str | None) -> Response:
    with Session(context().engine) as session:
        destroyed = [row for row in subject_entries(session, ref) if row.kind in DESTROYED_KINDS]
    page = make_response(render_template("subjects/personal_data.html", ref=ref, values=values, notice=notice,
                                         destroyed=destroyed))
    page.headers["Cache-Control"] = "no-store"   # values in clear: no copy in any cache
    return page


def _purpose() -> str:
    user = current_user()
    assert user is not None, "the role guard ran first"
    return PURPOSES[PRIVACY_OFFICER if PRIVACY_OFFICER in user.roles else AUDITOR]
