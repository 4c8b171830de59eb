"""/api/v1/requests: data-subject requests for automations, through ledger/requests.py like every path.

Each decision is one ledger transaction recorded as the token's (`api:<token id>`). A decision
the request's state does not allow is 409 with the ledger's reason (ids and states, never a
value); `run` only queues (state.request_runs.queue_run), after `why_not_startable`: the
`requests` job runs it, and `ledger.requests.start` decides again under the chain's lock.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from dashboard.api.auth import caller
from dashboard.api.models import (Confirmation, Extension, ListQuery, NewRequest, QueuedRun, Refusal, Request,
                                  RequestList, RunOrder, Verification)
from dashboard.api.operations import Answer, ApiProblem, operation
from dashboard.context import context
from database.times import parse_time
from ledger import requests
from ledger.identifiers import IdentifierError
from ledger.models import RequestProjection
from ledger.transactions import LedgerTransaction
from state.api_tokens import READ, RUN, WRITE
from state.request_runs import queue_run

ONE = "/requests/{request_id}"


@operation("POST", "/requests", (WRITE,), body=NewRequest, answers={201: Request})
def create_request(body: NewRequest) -> Answer:
    """Receive a request (channel `api`); an opt-out needs no verification, anything else waits for it."""
    intake = requests.Intake(body.type, "api", email=body.email, phone=body.phone, regime=body.regime,
                             text=body.text, corrections=body.corrections)
    try:
        with context().ledger.transaction() as tx:
            created = requests.receive(tx, intake, _rules())
    except (IdentifierError, requests.RequestError) as exc:     # their messages never repeat a value
        raise ApiProblem(422, "Unprocessable Content", str(exc)) from None
    return Request.of(created), 201


@operation("GET", "/requests", (READ,), query=ListQuery, answers={200: RequestList})
def list_requests(query: ListQuery) -> Answer:
    """The requests, newest first, optionally of one state."""
    chosen = select(RequestProjection).order_by(RequestProjection.received_at.desc(), RequestProjection.request_id)
    if query.state is not None:
        chosen = chosen.where(RequestProjection.state == query.state)
    with context().ledger.transaction() as tx:
        found = tx.session.scalars(chosen.limit(query.limit)).all()
        return RequestList(requests=[Request.of(request) for request in found]), 200


@operation("GET", ONE, (READ,), answers={200: Request}, problems=(404,))
def show_request(request_id: str) -> Answer:
    """One request."""
    with context().ledger.transaction() as tx:
        return Request.of(_known(tx, request_id)), 200


@operation("POST", f"{ONE}/confirmation", (WRITE,), body=Confirmation, answers={200: Request}, problems=(404, 409))
def confirm_request(request_id: str, body: Confirmation) -> Answer:
    """Confirm a draft from the privacy mailbox as a request (its type or regime corrected)."""
    return _decided(request_id, lambda tx: requests.confirm(tx, request_id, _rules(), request_type=body.type,
                                                              regime=body.regime, corrections=body.corrections,
                                                              by=caller()))


@operation("POST", f"{ONE}/verification", (WRITE,), body=Verification, answers={200: Request}, problems=(404, 409))
def verify_request(request_id: str, body: Verification) -> Answer:
    """Record an identity check: the method and the names of the data points matched."""
    return _decided(request_id, lambda tx: requests.verify(tx, request_id, method=body.method, data_points=body.data_points,
                                                             by=caller(), declaration=body.declaration))


@operation("POST", f"{ONE}/extension", (WRITE,), body=Extension, answers={200: Request}, problems=(404, 409))
def extend_request(request_id: str, body: Extension) -> Answer:
    """Extend the deadline once, inside the first period; the requester is told."""
    return _decided(request_id, lambda tx: requests.extend(tx, request_id, reason=body.reason, note=body.note,
                                                             by=caller(), rules=_rules()))


@operation("POST", f"{ONE}/refusal", (WRITE,), body=Refusal, answers={200: Request}, problems=(404, 409))
def refuse_request(request_id: str, body: Refusal) -> Answer:
    """Refuse the request with a reason; the requester is told it and their right to complain."""
    return _decided(request_id, lambda tx: requests.refuse(tx, request_id, reason=body.reason, note=body.note,
                                                             by=caller()))


@operation("POST", f"{ONE}/run", (RUN,), body=RunOrder, answers={202: QueuedRun}, problems=(404, 409))
def run_request(request_id: str, body: RunOrder) -> Answer:
    """Queue a verified request to run (with the choice per future appointment of an erasure)."""
    with context().ledger.transaction() as tx:
        refusal = requests.why_not_startable(_known(tx, request_id))
        if refusal is not None:
            raise ApiProblem(409, "Conflict", refusal)
        queued = queue_run(tx.session, request_id, by=caller(), now=context().clock(), choices=body.choices)
    return QueuedRun(request_id=request_id, run_state=queued.state, queued_at=parse_time(queued.queued_at)), 202


def _decided(request_id: str, decide: Callable[[LedgerTransaction], RequestProjection]) -> Answer:
    try:
        with context().ledger.transaction() as tx:
            _known(tx, request_id)
            return Request.of(decide(tx)), 200
    except requests.RequestError as refused:
        raise ApiProblem(409, "Conflict", str(refused)) from None


def _known(tx: LedgerTransaction, request_id: str) -> RequestProjection:
    request = requests.get(tx, request_id)
    if request is None:
        raise ApiProblem(404, "Not Found", "the ledger knows no request with this id")
    return request


def _rules() -> requests.RequestRules:
    return requests.RequestRules.from_settings(context().settings)
