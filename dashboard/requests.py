"""Data-subject requests: the queue, the officer's intake (a call, a letter), and each request's
page with its decisions (docs/dashboard.md "Requests").

Every decision is a call to ledger/requests.py in one ledger transaction, so the dashboard, the
API, the CLI and the jobs obey one set of rules; a decision the request's state does not allow
comes back as the page with the ledger's reason (ids and rules, never a value). "Run" records an
intent (state/request_runs.py): the `requests` job starts the run through the ledger's gate.
The requester's contact details are shown in clear only through an audited view. A decision
redirects back to the request's page (post, redirect, get).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from dashboard import request_files, request_forms
from dashboard.context import context
from dashboard.request_deadlines import deadline_day
from dashboard.request_facts import request_facts
from dashboard.request_forms import Problems
from dashboard.request_queue import STATE_FILTERS, QueueFilters, queue
from dashboard.roles import AUDITOR, PRIVACY_OFFICER, allow, shows_personal_data
from dashboard.sessions import current_user
from dashboard.viewing import show_personal_data
from ledger import requests as ledger_requests
from ledger.deadlines import REGIMES
from ledger.encryption import VaultError
from ledger.erasure import ErasedSubject
from ledger.identifiers import IdentifierError
from ledger.models import RequestProjection
from ledger.requests import CHANNELS, REQUEST_TYPES, RequestError, RequestRules
from ledger.transactions import LedgerTransaction
from ledger.views import UnknownSubject, ViewRefused
from state.request_runs import queue_run

bp = Blueprint("requests", __name__)
bp.register_blueprint(request_files.bp)     # the export and the certificate: requests.files.*
REQUEST_ID = re.compile(r"^req_[0-9a-f]{16}$")
# The purpose a view of a requester's contact details is recorded under: the officer answers the
# request (the purpose the details were collected for), the auditor audits.
PURPOSES = {PRIVACY_OFFICER: ledger_requests.CONTACT_PURPOSE, AUDITOR: "audit"}
Decision = Callable[[LedgerTransaction], Any]


@bp.get("/requests")
@allow(PRIVACY_OFFICER, AUDITOR)
def queue_page() -> str:
    """Every request the filters select, nearest deadline first."""
    filters = QueueFilters.from_args(request.args)
    settings = context().settings
    with Session(context().engine) as session:
        rows, cut = queue(session, filters, context().clock(), settings.REQUEST_ALERT_DAYS)
    return render_template("requests/queue.html", rows=rows, cut=cut, filters=filters,
                           alert_days=settings.REQUEST_ALERT_DAYS, state_filters=STATE_FILTERS,
                           request_types=REQUEST_TYPES, regimes=REGIMES, channels=CHANNELS)


@bp.get("/requests/new")
@allow(PRIVACY_OFFICER)
def new_page() -> str:
    return _new_page(Problems("intake", {"regime": context().settings.REQUEST_REGIME, "channel": "telephone"}), 200)


@bp.post("/requests/new")
@allow(PRIVACY_OFFICER)
def create() -> Response | tuple[str, int]:
    """Record a request the officer took (by telephone, letter, or in person); then its page."""
    problems = Problems("intake")
    dashboard = context()
    intake = request_forms.intake_from(request.form, problems, now=dashboard.clock(),
                                       zone=ZoneInfo(dashboard.settings.REQUEST_TIME_ZONE))
    if intake is None:
        return _new_page(problems, 400)
    try:
        with dashboard.ledger.transaction() as tx:
            received = ledger_requests.receive(tx, intake, RequestRules.from_settings(dashboard.settings))
    except IdentifierError as exc:
        # Which of the two it was, never the value: it would land in the page's history and caches.
        field = "phone" if "phone" in str(exc) else "email"
        problems.errors[field] = f"That is {exc}: check it and try again."
        return _new_page(problems, 400)
    flash(f"Request {received.request_id} recorded.", "info")
    return redirect(url_for("requests.request_page", request_id=received.request_id), 303)


@bp.get("/requests/<request_id>")
@allow(PRIVACY_OFFICER, AUDITOR)
def request_page(request_id: str) -> tuple[str, int]:
    return _page(request_id, Problems(), 200)


@bp.post("/requests/<request_id>/contact")
@allow(PRIVACY_OFFICER, AUDITOR)
@shows_personal_data
def reveal_contact(request_id: str) -> tuple[str, int]:
    """The requester's contact details and words in clear, once the view is recorded (`viewed`)."""
    requester = _known(request_id).requester_ref
    problems = Problems("contact", {"reason": request.form.get("reason", "").strip()})
    try:
        shown = show_personal_data(requester or "", purpose=_purpose(), reason=problems.typed["reason"])
    except ViewRefused:
        problems.errors["reason"] = "Give a reason to see the requester's contact details."
        return _page(request_id, problems, 400)
    except (UnknownSubject, ErasedSubject, VaultError):
        problems.errors["reason"] = "The requester's contact details are no longer held: they were erased once the closed request no longer needed them."
        return _page(request_id, problems, 410)
    return _page(request_id, problems, 200, contact=shown.values)


@bp.post("/requests/<request_id>/confirm")
@allow(PRIVACY_OFFICER)
def confirm(request_id: str) -> Response | tuple[str, int]:
    """A draft from the privacy mailbox becomes a request (of the type and regime chosen)."""
    typed = request_forms.typed_of(request.form, ("request_type", "regime",
                                                  *(f"correction.{name}" for name in request_forms.CORRECTABLE)))
    problems = Problems("confirm", typed)
    rules = RequestRules.from_settings(context().settings)
    return _decide(request_id, problems, "confirmed", lambda tx: ledger_requests.confirm(
        tx, request_id, rules, request_type=typed["request_type"] or None, regime=typed["regime"] or None,
        corrections=request_forms.corrections_of(typed), by=_user_id()))


@bp.post("/requests/<request_id>/discard")
@allow(PRIVACY_OFFICER)
def discard(request_id: str) -> Response | tuple[str, int]:
    """A draft that is no request (a reply, spam, a question) is closed as discarded."""
    return _decide(request_id, Problems("discard"), "discarded",
                   lambda tx: ledger_requests.discard(tx, request_id, by=_user_id()))


@bp.post("/requests/<request_id>/verify")
@allow(PRIVACY_OFFICER)
def verify(request_id: str) -> Response | tuple[str, int]:
    """Record the officer's identity check: the data points matched (their names) and a declaration."""
    problems = Problems("verify")
    checked = request_forms.verification_from(request.form, problems)
    if checked is None:
        return _page(request_id, problems, 400)
    points, declaration = checked
    return _decide(request_id, problems, "verified", lambda tx: ledger_requests.verify(
        tx, request_id, method="officer", data_points=points, by=_user_id(), declaration=declaration))


@bp.post("/requests/<request_id>/extend")
@allow(PRIVACY_OFFICER)
def extend(request_id: str) -> Response | tuple[str, int]:
    """Extend the deadline once, with a reason; the extension notice goes to the requester."""
    problems = Problems("extend")
    decision = request_forms.decision_from(request.form, problems, ledger_requests.EXTENSION_REASONS)
    if decision is None:
        return _page(request_id, problems, 400)
    reason, note = decision
    rules = RequestRules.from_settings(context().settings)
    return _decide(request_id, problems, "extended", lambda tx: ledger_requests.extend(
        tx, request_id, reason=reason, note=note, by=_user_id(), rules=rules))


@bp.post("/requests/<request_id>/reject")
@allow(PRIVACY_OFFICER)
def reject(request_id: str) -> Response | tuple[str, int]:
    """Refuse the request with a reason; the refusal mail gives it and the right to complain."""
    problems = Problems("reject")
    decision = request_forms.decision_from(request.form, problems, ledger_requests.REFUSAL_REASONS)
    if decision is None:
        return _page(request_id, problems, 400)
    reason, note = decision
    return _decide(request_id, problems, "refused", lambda tx: ledger_requests.refuse(
        tx, request_id, reason=reason, note=note, by=_user_id()))


@bp.post("/requests/<request_id>/run")
@allow(PRIVACY_OFFICER)
def run(request_id: str) -> Response | tuple[str, int]:
    """Queue the request's run (with each future appointment's choice, for an erasure), if it may run."""
    problems = Problems("run")
    dashboard = context()
    with dashboard.ledger.transaction() as tx:
        facts = request_facts(tx.session, _checked_id(request_id), dashboard.clock(), dashboard.settings.REQUEST_ALERT_DAYS)
        if facts is None:
            abort(404)
        refusal = facts.why_not_startable
        choices = None if refusal else request_forms.choices_from(request.form, problems,
                                                                  [a.appointment_id for a in facts.appointments])
        if choices is not None:
            queue_run(tx.session, request_id, by=_user_id(), now=dashboard.clock(), choices=choices)
    if refusal is not None:
        problems.errors["run"] = f"Not queued: {refusal}."
        return _page(request_id, problems, 409)
    if choices is None:
        return _page(request_id, problems, 400)
    flash(f"Request {request_id} is queued to run; the requests job carries it out within minutes.", "info")
    return redirect(url_for("requests.request_page", request_id=request_id), 303)


@bp.app_template_filter("deadline_day")
def deadline_day_filter(due_at: str | None) -> str:
    """A stored deadline as its last local day, "end of 2027-01-04 (Europe/Dublin)"."""
    if due_at is None:
        return "none"
    zone = ZoneInfo(context().settings.REQUEST_TIME_ZONE)
    return f"end of {deadline_day(due_at, zone)} ({zone.key})"


def _decide(request_id: str, problems: Problems, done: str, decision: Decision) -> Response | tuple[str, int]:
    """Make the decision in one ledger transaction; the page again with the ledger's reason when refused."""
    _known(request_id)
    try:
        with context().ledger.transaction() as tx:
            decision(tx)
    except RequestError as exc:
        problems.errors[problems.form] = f"Not {done}: {exc}."
        return _page(request_id, problems, 409)
    flash(f"Request {request_id} {done}.", "info")
    return redirect(url_for("requests.request_page", request_id=request_id), 303)


def _page(request_id: str, problems: Problems, status: int, *, contact: dict[str, str] | None = None) -> tuple[str, int]:
    dashboard = context()
    with Session(dashboard.engine) as session:
        facts = request_facts(session, _checked_id(request_id), dashboard.clock(), dashboard.settings.REQUEST_ALERT_DAYS)
        if facts is None:
            abort(404)
        page = render_template("requests/request.html", facts=facts, problems=problems, contact=contact,
                               forms=request_forms, ledger_requests=ledger_requests, regimes=REGIMES)
    return page, status


def _new_page(problems: Problems, status: int) -> tuple[str, int]:
    zone = context().settings.REQUEST_TIME_ZONE
    return render_template("requests/new.html", problems=problems, forms=request_forms,
                           ledger_requests=ledger_requests, regimes=REGIMES, zone=zone), status


def _known(request_id: str) -> RequestProjection:
    return request_files.known_request(_checked_id(request_id))


def _checked_id(request_id: str) -> str:
    if not REQUEST_ID.match(request_id):
        abort(404)
    return request_id


def _purpose() -> str:
    user = current_user()
    assert user is not None, "the role guard ran first"
    return PURPOSES[PRIVACY_OFFICER if PRIVACY_OFFICER in user.roles else AUDITOR]


def _user_id() -> str:
    user = current_user()
    assert user is not None      # the role guard let only a signed-in officer through
    return user.id
