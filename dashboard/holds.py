"""Legal holds: list them, place one, release one (ledger/holds.py; docs/holds.md).

Each hold is placed and released in one ledger transaction, which appends `hold-placed` or
`hold-released` (ids, scope, target, end: never the reason or a name). Who placed or released it
is the signed-in user's id. A form with a mistake is shown again, what was typed kept, with the
reason for the refusal; a hold placed or released redirects back to the list (post, redirect, get).
The page shows the reasons, which may name a person, so it is never cached.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from dashboard.context import context
from dashboard.roles import AUDITOR, PRIVACY_OFFICER, allow
from dashboard.sessions import current_user
from ledger.holds import SCOPES, Hold, UnknownHold, all_holds, parse_end, place_hold, release_hold

bp = Blueprint("holds", __name__)


@dataclass
class Problems:
    """What was wrong with a form, by field, and what was typed, to show it again."""

    typed: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    hold_id: str | None = None      # the release form it concerns, if any


@bp.get("/holds")
@allow(PRIVACY_OFFICER, AUDITOR)
def holds_page() -> Response:
    """The active holds (each with its release form), the holds that ended, and the form to place one."""
    return _page(Problems(), 200)


@bp.post("/holds")
@allow(PRIVACY_OFFICER)
def place() -> Response:
    """Place a hold from the form; the form again, with what is wrong, when it cannot be placed."""
    typed = {name: request.form.get(name, "").strip() for name in ("scope", "target", "reason", "ends")}
    problems, ends_at = _checked(typed)
    if not problems.errors:
        with context().ledger.transaction() as tx:
            known = typed["scope"] != "subject" or tx.subject(typed["target"]) is not None
            hold = place_hold(tx, typed["scope"], typed["target"], reason=typed["reason"], placed_by=_user_id(),
                              ends_at=ends_at) if known else None
        if hold is not None:
            flash(f"Hold {hold.id} placed.", "info")
            return redirect(url_for("holds.holds_page"), 303)
        problems.errors["target"] = "The ledger knows no subject with that ref."
    return _page(problems, 400)


def _checked(typed: dict[str, str]) -> tuple[Problems, datetime | None]:
    """What is wrong with the place form (the subject's existence aside), and the hold's end."""
    problems, ends_at = Problems(typed), None
    if typed["scope"] not in SCOPES:
        problems.errors["scope"] = f"Choose one of {', '.join(SCOPES)}."
    if not typed["target"]:
        problems.errors["target"] = "Give what the hold covers: a subject ref, an appointment id or a business id."
    if not typed["reason"]:
        problems.errors["reason"] = "Give the reason the law requires keeping it (for example a case number)."
    if typed["ends"]:
        try:
            ends_at = parse_end(typed["ends"], context().clock())
        except ValueError as exc:
            problems.errors["ends"] = f"Ends: {exc}."
    return problems, ends_at


@bp.post("/holds/<hold_id>/release")
@allow(PRIVACY_OFFICER)
def release(hold_id: str) -> Response:
    """Release an active hold; what fell due while it held runs at the next retention run."""
    reason = request.form.get("release_reason", "").strip()
    problems = Problems({"release_reason": reason}, hold_id=hold_id)
    if not reason:
        problems.errors["release_reason"] = "Give the reason the hold ends."
        return _page(problems, 400)
    try:
        with context().ledger.transaction() as tx:
            release_hold(tx, hold_id, reason=reason, released_by=_user_id())
    except UnknownHold:
        problems.errors["release_reason"] = "There is no active hold with that id: it was released already, or has ended."
        return _page(problems, 409)
    flash(f"Hold {hold_id} released.", "info")
    return redirect(url_for("holds.holds_page"), 303)


def _page(problems: Problems, status: int) -> Response:
    now = context().clock()
    with context().ledger.transaction() as tx:
        holds = all_holds(tx.session)
    active = [hold for hold in holds if hold.active(now)]
    ended = [hold for hold in reversed(holds) if not hold.active(now)]
    page = render_template("holds/holds.html", active=active, ended=ended, scopes=SCOPES, problems=problems,
                           state_of=_state)
    response = Response(page, status)
    response.headers["Cache-Control"] = "no-store"   # the reasons may name a person
    return response


def _state(hold: Hold) -> str:
    return "released" if hold.released_at else "lapsed"


def _user_id() -> str:
    user = current_user()
    assert user is not None      # the role guard let only a signed-in officer through
    return user.id
