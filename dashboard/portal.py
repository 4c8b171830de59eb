"""The public privacy page: the notice and its versions, a request form per type, email verification,
and the single-use status and export links. Anyone may use it; nothing on it needs signing in.

    GET  /privacy                          the notice in force, earlier versions, the request forms
    GET  /privacy/notices/<version>        one version of the notice
    GET  /privacy/requests/new/<type>      a request form;  POST: receive it, want a challenge
    GET  /privacy/verify/<challenge>       the code form;   POST: check the code
    GET  /privacy/v/<token>                the emailed link's page;  POST: check the link
    GET  /privacy/status/<token>           the status link's page;   POST: open it once
    GET  /privacy/export/<token>           the export link's page;   POST: download once

The same answer, the same work: every submission is received as a request (ledger.requests) and
gets a challenge, whatever the address; who its subjects are is found only when it runs. So the
answer to a submission is the same redirect to a code form, and the code form tells nobody
whether mail was sent to a known person. Every wrong code, spent link or expired one gets the
same page. A link's GET only shows a button: mail scanners follow links, and a single-use link
must not be spent by one; the POST, with its CSRF token, opens it. The forms count against
PORTAL_RATE_LIMIT per client address (dashboard.security); the page has no script at all.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response

from dashboard.context import EXTENSION, context
from dashboard.notices import NOTICE, blocks_of
from dashboard.portal_forms import CORRECTABLE, REQUEST_PAGES, read_request_form
from dashboard.portal_notices import published_notices
from dashboard.roles import public
from dashboard.security import portal_limit
from database.engine import read_only
from ledger import requests
from ledger.requests import NEEDS_NO_VERIFICATION, OFFICER_VERIFIED, RequestRules
from ledger.transactions import LedgerTransaction
from state.portal_links import create_link, redeem_link
from state.verification import CheckResult, check_code, check_link, want_challenge

bp = Blueprint("portal", __name__, url_prefix="/privacy")
RULES = "bookings_ledger.portal_rules"
# Types the emailed code cannot verify: an opt-out needs nothing, a parent is checked by the officer.
NO_CHALLENGE = NEEDS_NO_VERIFICATION | OFFICER_VERIFIED
STATUS_WORDS = {"draft": "received, being read", "awaiting-verification": "waiting for your address to be verified",
                "verified": "verified, waiting to be carried out", "running": "being carried out",
                "completed": "done", "refused": "refused (we emailed you why)",
                "duplicate": "joined to an earlier request of yours", "discarded": "closed"}
REFUSED_LINK = ("This link does not open. A link opens once and for a limited time; if you need "
                "another, write to us at the address in the privacy notice.")


@bp.record_once
def _rules(state: BlueprintSetupState) -> None:
    state.app.extensions[RULES] = RequestRules.from_settings(state.app.extensions[EXTENSION].settings)


@bp.get("")
@public
def privacy_page() -> str:
    """The notice in force, links to its earlier versions, and a link to each request form."""
    with read_only(context().engine) as connection:
        notices = published_notices(connection, current_app.extensions[NOTICE])
    return render_template("portal/privacy.html", notice=notices[0], blocks=blocks_of(notices[0].text),
                           earlier=notices[1:], pages=REQUEST_PAGES)


@bp.get("/notices/<version>")
@public
def notice_page(version: str) -> str:
    """One version of the notice, in force or earlier."""
    with read_only(context().engine) as connection:
        notices = published_notices(connection, current_app.extensions[NOTICE])
    found = next((notice for notice in notices if notice.version == version), None)
    if found is None:
        abort(404)
    return render_template("portal/notice.html", notice=found, blocks=blocks_of(found.text),
                           in_force=found is notices[0])


@bp.get("/requests/new/<request_type>")
@public
def request_form(request_type: str) -> str:
    """The form of one request type."""
    return _form(request_type, {}, {})


@bp.post("/requests/new/<request_type>")
@public
@portal_limit
def submit_request(request_type: str) -> Response | tuple[str, int]:
    """Receive the request and ask for a challenge; on to the code form (opt-outs and a parent's
    request: the page that says what happens next)."""
    if request_type not in REQUEST_PAGES:
        abort(404)
    read = read_request_form(request_type, request.form)
    if read.intake is None:
        return _form(request_type, request.form, read.problems), 400
    dashboard = context()
    with dashboard.ledger.transaction() as tx:
        received = requests.receive(tx, read.intake, current_app.extensions[RULES])
        challenge = None if request_type in NO_CHALLENGE else want_challenge(tx.session, received.request_id,
                                                                                dashboard.clock())
    if challenge is None:
        return render_template("portal/received.html", page=REQUEST_PAGES[request_type], request_type=request_type), 200
    return redirect(url_for("portal.code_form", challenge=challenge), 303)


@bp.get("/verify/<challenge>")
@public
def code_form(challenge: str) -> str:
    """Where the emailed code is entered; the same page for any challenge id (it looks nothing up)."""
    return render_template("portal/code.html", challenge=challenge,
                           minutes=context().settings.VERIFICATION_CODE_MINUTES)


@bp.post("/verify/<challenge>")
@public
@portal_limit
def enter_code(challenge: str) -> tuple[str, int]:
    """Check the code; verify the request when it is right."""
    dashboard = context()
    with dashboard.ledger.transaction() as tx:
        result = check_code(tx.session, challenge, request.form.get("code", ""), dashboard.clock(),
                            dashboard.settings.VERIFICATION_ATTEMPTS)
        status_token = _verify_requester(tx, result, "email-code")
    if status_token is None:
        return render_template("portal/code.html", challenge=challenge, wrong=True,
                               minutes=dashboard.settings.VERIFICATION_CODE_MINUTES), 400
    return render_template("portal/verified.html", status_token=status_token), 200


@bp.get("/v/<token>")
@public
def link_page(token: str) -> str:
    """The emailed link's page: a button, so that a mail scanner following the link spends nothing."""
    return _link_page("portal.open_link", token, "Verify your email address", "Confirm that you asked us "
                      "for this request.", "Verify my address")


@bp.post("/v/<token>")
@public
@portal_limit
def open_link(token: str) -> tuple[str, int]:
    """Check the emailed link; verify the request when it opens."""
    dashboard = context()
    with dashboard.ledger.transaction() as tx:
        status_token = _verify_requester(tx, check_link(tx.session, token, dashboard.clock()), "email-link")
    if status_token is None:
        return _refused_link()
    return render_template("portal/verified.html", status_token=status_token), 200


@bp.get("/status/<token>")
@public
def status_page(token: str) -> str:
    """The status link's page: a button that opens it once."""
    return _link_page("portal.open_status", token, "Your request's status", "This link shows your request's "
                      "status once.", "Show the status")


@bp.post("/status/<token>")
@public
@portal_limit
def open_status(token: str) -> tuple[str, int]:
    """The request's type, state and deadline, once per link."""
    dashboard = context()
    with dashboard.ledger.transaction() as tx:
        request_id = redeem_link(tx.session, token, "status", dashboard.clock())
        found = requests.get(tx, request_id) if request_id else None
    if found is None:
        return _refused_link()
    return render_template("portal/status.html", request=found, page=REQUEST_PAGES[found.request_type],
                           state=STATUS_WORDS[found.state]), 200


def _verify_requester(tx: LedgerTransaction, result: CheckResult, method: str) -> str | None:
    """On a right code or link: record the verification (a request still waiting for one) and a status
    link for the page; None on any failure. A duplicate, or a request verified meanwhile, is left as it is."""
    if not result.ok or result.request_id is None:
        return None
    found = requests.get(tx, result.request_id)
    if found is not None and found.state == "awaiting-verification":
        requests.verify(tx, found.request_id, method=method, data_points=["email"], by="subject")
    return create_link(tx.session, result.request_id, "status", context().clock(),
                       context().settings.REQUEST_LINK_HOURS)


def _form(request_type: str, values: object, problems: dict[str, str]) -> str:
    if request_type not in REQUEST_PAGES:
        abort(404)
    return render_template("portal/request_form.html", request_type=request_type, page=REQUEST_PAGES[request_type],
                           values=values, problems=problems, correctable=CORRECTABLE)


def _link_page(action: str, token: str, title: str, explanation: str, button: str) -> str:
    return render_template("portal/link.html", action=url_for(action, token=token), title=title,
                           explanation=explanation, button=button)


def _refused_link() -> tuple[str, int]:
    return render_template("dashboard/refused.html", reason=REFUSED_LINK), 404
