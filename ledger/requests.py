"""Data-subject requests in the ledger: each decision about a request is an entry, and only these
functions make them. The CLI, the API, the dashboard, the public privacy page and the jobs all
call them, so one rule holds on every path: nothing runs before its identity check.

    rules = RequestRules.from_settings(settings)
    with ledger.transaction() as tx:
        request = receive(tx, Intake("erasure", "portal", email="a@example.org"), rules)
        verify(tx, request.request_id, method="email-code", data_points=["email"], by="subject")
        start(tx, request.request_id, subjects=[...])        # NotVerified unless verified enough
        complete(tx, request.request_id, outcome="done")

States (the `requests` projection, ledger/request_projection.py):

    draft                  from the privacy mailbox, waiting for the officer to confirm or discard it
    awaiting-verification  received; nothing may run yet
    verified               identity checked to `verification` (LEVELS); ready to run
    running                started: its subjects are fixed; jobs/requests carries it out
    completed | refused | duplicate | discarded      closed

The requester's contact details (and any free text: the message, a correction asked for, the
officer's note on an extension or refusal) are personal data: they are collected, encrypted,
under a subject of their own (`requester_ref`), category `request-contact`, purpose
`privacy-request`, and blind-indexed like any email or phone number, so a later request from
the same person is found, and an access export includes what the earlier requests left. The
entries carry ids, types, states, dates, reason codes and the *names* of matched data points.
Every function works in the caller's transaction and commits nothing; each takes the chain's
lock first (every append does), so two decisions on one request are serialised and the second
sees the first.
"""
from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select

from database.times import format_time, parse_time
from ledger.deadlines import OPT_OUT, REGIMES, Calendars, Deadlines, deadlines_for
from ledger.entries import lock_head
from ledger.models import BlindIndex, RequestProjection
from ledger.transactions import LedgerTransaction

REQUEST_TYPES = ("access", "portability", "rectification", "erasure", "restriction", "objection", OPT_OUT,
                 "child-erasure")
CHANNELS = ("dashboard", "cli", "api", "email", "telephone", "portal", "letter")
OPEN_STATES = ("draft", "awaiting-verification", "verified", "running")
CLOSED_STATES = ("completed", "refused", "duplicate", "discarded")
# Degrees of certainty, weakest first: an email round trip proves one data point (privacy-facts
# 4.6); CCPA's "reasonable" degree takes two matched, its "reasonably high" three and a signed
# declaration. `none` is an opt-out's: it needs no verification (§7026, GDPR Art. 21(3)).
LEVELS = ("none", "email", "reasonable", "high")
METHODS = ("email-code", "email-link", "officer")
EXTENSION_REASONS = ("complexity", "number-of-requests")
REFUSAL_REASONS = ("identity-not-verified", "manifestly-unfounded", "excessive", "legal-exemption", "not-a-request")
CONTACT_CATEGORY = "request-contact"
CONTACT_PURPOSE = "privacy-request"
NEEDS_NO_VERIFICATION = frozenset({OPT_OUT})
# A parent asking for a child's erasure is checked by a person (COPPA §312.6(a)(3): ensure the
# requester is the parent): an emailed code proves an address, not parenthood.
OFFICER_VERIFIED = frozenset({"child-erasure"})
_CCPA_LEVEL = {"erasure": "reasonable", "rectification": "reasonable", "child-erasure": "reasonable",
               "access": "reasonable", "portability": "reasonable"}


class RequestError(ValueError):
    """A decision the request's state does not allow; the message names the request and the rule, never a value."""


class NotVerified(RequestError):
    """The request may not run: its identity is not verified to the degree its type needs."""


@dataclass(frozen=True)
class RequestRules:
    """What the settings decide about requests."""

    calendars: Calendars
    default_regime: str
    duplicate_window: timedelta

    @classmethod
    def from_settings(cls, settings: Any) -> RequestRules:
        return cls(Calendars.from_settings(settings), settings.REQUEST_REGIME,
                   timedelta(days=settings.REQUEST_DUPLICATE_WINDOW_DAYS))


@dataclass(frozen=True)
class Intake:
    """A request as it arrives. `received_at` defaults to now (a mailed request: the message's time)."""

    request_type: str
    channel: str
    email: str | None = None
    phone: str | None = None
    regime: str | None = None
    received_at: datetime | None = None
    text: str | None = None                              # the requester's own words (a mail's text)
    corrections: Mapping[str, str] = field(default_factory=dict)   # rectification: field -> new value
    draft: bool = False
    message_id: str | None = None                        # the Graph message it came in, for the email channel


def required_level(regime: str, request_type: str) -> str:
    """The weakest verification degree a request of this type may run with."""
    if request_type in NEEDS_NO_VERIFICATION:
        return "none"
    return _CCPA_LEVEL.get(request_type, "email") if regime == "ccpa" else "email"


def level_for(data_points: Sequence[str], declaration: bool) -> str:
    """The degree `len(data_points)` matched points (and a signed declaration) reach."""
    count = len(set(data_points))
    if count >= 3 and declaration:
        return "high"
    if count >= 2:
        return "reasonable"
    return "email" if count == 1 else "none"


def receive(tx: LedgerTransaction, intake: Intake, rules: RequestRules) -> RequestProjection:
    """Record a new request (state `draft`, `awaiting-verification`, or `verified` for an opt-out);
    a request of the same type from the same person inside the duplicate window is linked to
    the first one at once (state `duplicate`) and never runs."""
    _check_choice("request type", intake.request_type, REQUEST_TYPES)
    _check_choice("channel", intake.channel, CHANNELS)
    regime = intake.regime or rules.default_regime
    _check_choice("regime", regime, REGIMES)
    if intake.email is None and intake.phone is None:
        raise RequestError("a request needs an email address or a telephone number to answer it by")
    lock_head(tx.session)
    request_id, requester = new_request_id(), tx.new_subject()
    received_at = intake.received_at or tx.clock()
    due = deadlines_for(regime, intake.request_type, received_at, rules.calendars)
    contact = {name: value for name, value in (("email", intake.email), ("phone", intake.phone), ("request_text", intake.text))
               if value}
    contact.update({f"correction.{name}": value for name, value in intake.corrections.items()})
    refs = {"request": request_id, **({"message": intake.message_id} if intake.message_id else {})}
    state = "draft" if intake.draft else _first_state(intake.request_type)
    tx.collect(requester, contact, categories=dict.fromkeys(contact, CONTACT_CATEGORY), purpose=CONTACT_PURPOSE,
               refs=refs, kind="request-received", request_type=intake.request_type, regime=regime,
               channel=intake.channel, state=state, received_at=format_time(received_at), **_due_details(due))
    if not intake.draft:
        _link_if_duplicate(tx, request_id, rules)
    return _require(tx, request_id)


def confirm(tx: LedgerTransaction, request_id: str, rules: RequestRules, *, request_type: str | None = None,
            regime: str | None = None, corrections: Mapping[str, str] | None = None, by: str) -> RequestProjection:
    """The officer confirms a draft from the privacy mailbox as a request (of `request_type`, under
    `regime`, when the draft's guess was wrong; with the `corrections` a mailed rectification asks
    for, read from the mail); its deadlines still run from the mail's receipt."""
    request = _locked(tx, request_id, "draft")
    request_type = request_type or request.request_type
    regime = regime or request.regime
    _check_choice("request type", request_type, REQUEST_TYPES)
    _check_choice("regime", regime, REGIMES)
    due = deadlines_for(regime, request_type, parse_time(request.received_at), rules.calendars)
    values = {f"correction.{name}": value for name, value in (corrections or {}).items()}
    _decide(tx, request, "request-confirmed", values, actor=by, request_type=request_type, regime=regime,
            state=_first_state(request_type), **_due_details(due))
    _link_if_duplicate(tx, request_id, rules)
    return _require(tx, request_id)


def discard(tx: LedgerTransaction, request_id: str, *, by: str) -> RequestProjection:
    """The officer discards a draft that is not a request (spam, a reply, a question)."""
    request = _locked(tx, request_id, "draft")
    tx.append("request-discarded", subject=request.requester_ref, refs={"request": request_id}, actor=by,
              outcome="discarded")
    return _require(tx, request_id)


def verify(tx: LedgerTransaction, request_id: str, *, method: str, data_points: Sequence[str], by: str,
           declaration: bool = False) -> RequestProjection:
    """Record an identity check: `method`, the names of the data points matched (never their
    values) and the degree reached. A verified request may be verified again to a higher degree."""
    _check_choice("method", method, METHODS)
    request = _locked(tx, request_id, "awaiting-verification", "verified")
    if request.request_type in OFFICER_VERIFIED and method != "officer":
        raise RequestError(f"request {request_id}: a parent's request is verified by the officer, not by {method}")
    level = level_for(data_points, declaration)
    if level == "none":
        raise RequestError(f"request {request_id}: a verification names at least one data point matched")
    tx.append("request-verified", subject=request.requester_ref, refs={"request": request_id}, actor=by,
              method=method, data_points=sorted(set(data_points)), declaration=declaration or None, level=level)
    return _require(tx, request_id)


def start(tx: LedgerTransaction, request_id: str, *, subjects: Iterable[str], by: str) -> RequestProjection:
    """Start carrying the request out over `subjects` (the subjects it was found to cover).

    The one gate every path to execution passes: NotVerified unless the request is `verified`
    to the degree its type needs (an opt-out needs none); RequestError for any other state,
    a duplicate and a request already running included."""
    request = _locked(tx, request_id, *OPEN_STATES)
    refusal = why_not_startable(request)
    if refusal is not None:
        raise NotVerified(refusal)
    chosen = sorted(set(subjects) - {request.requester_ref})
    tx.append("request-started", subject=request.requester_ref, refs={"request": request_id}, actor=by, subjects=chosen)
    return _require(tx, request_id)


def why_not_startable(request: RequestProjection) -> str | None:
    """Why the request may not start now (None: it may). The dashboard and the API ask it before
    they queue a run; `start` asks it again under the chain's lock, which is what decides."""
    if request.state != "verified":
        return f"request {request.request_id} is {request.state}: only a verified request runs"
    needed = required_level(request.regime, request.request_type)
    if LEVELS.index(request.verification or "none") < LEVELS.index(needed):
        return (f"request {request.request_id} is verified to {request.verification!r}; "
                f"a {request.regime} {request.request_type} request needs {needed!r}")
    return None


def extend(tx: LedgerTransaction, request_id: str, *, reason: str, note: str | None, by: str,
           rules: RequestRules) -> RequestProjection:
    """Extend the deadline once (GDPR: by two further months; CCPA: by 45 days), before the first
    period ends; the subject is told (jobs/requests sends the extension notice). `reason` is a
    code (EXTENSION_REASONS); the officer's `note` is kept encrypted with the requester's contact."""
    _check_choice("extension reason", reason, EXTENSION_REASONS)
    request = _locked(tx, request_id, "awaiting-verification", "verified", "running")
    if request.request_type == OPT_OUT:
        raise RequestError(f"request {request_id}: an opt-out cannot be extended")
    if request.extended_at is not None:
        raise RequestError(f"request {request_id} was extended already; the law allows one extension")
    now = tx.clock()
    if now >= parse_time(request.first_due_at):
        raise RequestError(f"request {request_id}: its first period ended; an extension must be noticed inside it")
    due = deadlines_for(request.regime, request.request_type, parse_time(request.received_at), rules.calendars)
    _decide(tx, request, "request-extended", _note("extension_note", note), actor=by, reason=reason,
            due_at=format_time(due.extended_respond_by))
    return _require(tx, request_id)


def refuse(tx: LedgerTransaction, request_id: str, *, reason: str, note: str | None, by: str) -> RequestProjection:
    """Refuse the request with a reason code (REFUSAL_REASONS); the refusal mail gives the reason and
    the right to complain. The officer's `note` is kept encrypted with the requester's contact."""
    _check_choice("refusal reason", reason, REFUSAL_REASONS)
    request = _locked(tx, request_id, "awaiting-verification", "verified", "running")
    _decide(tx, request, "request-refused", _note("refusal_note", note), actor=by, reason=reason, outcome="refused")
    return _require(tx, request_id)


def complete(tx: LedgerTransaction, request_id: str, *, outcome: str, **details: Any) -> RequestProjection:
    """Close a running request: `outcome` "done", or "partial" when a legal hold kept something."""
    _check_choice("outcome", outcome, ("done", "partial"))
    request = _locked(tx, request_id, "running")
    tx.append("request-completed", subject=request.requester_ref, refs={"request": request_id}, outcome=outcome,
              request_type=request.request_type, **details)
    return _require(tx, request_id)


def record_certificate(tx: LedgerTransaction, request_id: str, certificate_id: str, **details: Any) -> int:
    """Record that the request's certificate was issued; its seq."""
    request = _locked(tx, request_id, "completed", "refused")
    return tx.append("certificate-issued", subject=request.requester_ref,
                     refs={"request": request_id, "certificate": certificate_id}, **details).seq


def get(tx: LedgerTransaction, request_id: str) -> RequestProjection | None:
    """The request's projection, if the ledger knows it."""
    return tx.session.get(RequestProjection, request_id)


def subjects_of(request: RequestProjection) -> list[str]:
    """The subjects a started request covers."""
    return json.loads(request.subjects) if request.subjects else []


def new_request_id() -> str:
    """A random request id: nothing about the person or the time is in it."""
    return f"req_{secrets.token_hex(8)}"


def _first_state(request_type: str) -> str:
    return "verified" if request_type in NEEDS_NO_VERIFICATION else "awaiting-verification"


def _due_details(due: Deadlines) -> dict[str, str | None]:
    confirm = due.confirm_receipt_by
    return {"due_at": format_time(due.respond_by), "confirm_by": format_time(confirm) if confirm else None}


def _decide(tx: LedgerTransaction, request: RequestProjection, kind: str, values: Mapping[str, str],
            **details: Any) -> None:
    """Append the decision; free text (`values`) is collected with it under the requester's keys."""
    refs = {"request": request.request_id}
    if values:
        tx.collect(request.requester_ref, values, categories=dict.fromkeys(values, CONTACT_CATEGORY),
                   purpose=CONTACT_PURPOSE, refs=refs, kind=kind, **details)
    else:
        tx.append(kind, subject=request.requester_ref, refs=refs, **details)


def _note(field_name: str, note: str | None) -> dict[str, str]:
    return {field_name: note} if note else {}


def _link_if_duplicate(tx: LedgerTransaction, request_id: str, rules: RequestRules) -> None:
    """Link the request to an earlier one of the same type from the same person inside the window."""
    request = _require(tx, request_id)
    contact = request.requester_ref
    if rules.duplicate_window <= timedelta(0):
        return
    since = format_time(parse_time(request.received_at) - rules.duplicate_window)
    # One query of one shape whoever the requester is: the public page must do the same work for an
    # address the ledger knows as for one it never saw (a first query of the same person's subjects,
    # then a second only when there were any, would tell them apart by timing).
    earlier = tx.session.scalars(
        select(RequestProjection).where(
            RequestProjection.requester_ref.in_(_same_person(contact)), RequestProjection.request_type == request.request_type,
            RequestProjection.received_at >= since, RequestProjection.request_id != request_id,
            RequestProjection.state.not_in(("duplicate", "discarded", "draft")))
        .order_by(RequestProjection.received_at, RequestProjection.request_id)).first()
    if earlier is not None:
        tx.append("request-linked", subject=contact, refs={"request": request_id, "duplicate_of": earlier.request_id})


def _same_person(requester: str) -> Select[tuple[str]]:
    """The other subjects sharing the requester's email or phone (its blind indexes), as a subquery."""
    digests = select(BlindIndex.digest).where(BlindIndex.subject_ref == requester)
    return select(BlindIndex.subject_ref).where(BlindIndex.digest.in_(digests), BlindIndex.subject_ref != requester)


def _locked(tx: LedgerTransaction, request_id: str, *states: str) -> RequestProjection:
    lock_head(tx.session)
    request = _require(tx, request_id)
    if request.state not in states:
        raise RequestError(f"request {request_id} is {request.state}; this needs it {' or '.join(states)}")
    return request


def _require(tx: LedgerTransaction, request_id: str) -> RequestProjection:
    request = tx.session.get(RequestProjection, request_id, populate_existing=True)
    if request is None:
        raise RequestError(f"no request {request_id} in the ledger")
    return request


def _check_choice(what: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise RequestError(f"unknown {what} {value!r}; expected one of {', '.join(choices)}")
