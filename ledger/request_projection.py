"""The `requests` projection: each data-subject request's current state, derived from its entries.

Called by `ledger.projections.apply_entry` for every entry that names a request in its refs, in
the transaction of the append, so `rebuild_projections` recomputes the table from the chain.
What each state means and which entry moves a request there is ledger/requests.py's to say.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from database.times import parse_time
from ledger.models import RequestProjection

Apply = Callable[[RequestProjection, dict[str, Any]], None]


def apply_request_entry(session: Session, entry: dict[str, Any]) -> None:
    """Bring the request the entry names up to date with it (entries of other kinds leave it alone)."""
    apply = _BY_KIND.get(entry["kind"])
    if apply is None:
        return
    request_id = entry["refs"]["request"]
    request = session.get(RequestProjection, request_id)
    if request is None:
        if entry["kind"] != "request-received":
            return
        request = RequestProjection(request_id=request_id, received_at=entry["received_at"])
        session.add(request)
    apply(request, entry)
    request.last_seq = entry["seq"]


def _received(request: RequestProjection, entry: dict[str, Any]) -> None:
    request.requester_ref = entry.get("subject")
    request.request_type, request.regime, request.channel = entry["request_type"], entry["regime"], entry["channel"]
    request.state, request.verification = entry["state"], "none"
    _deadlines(request, entry)


def _confirmed(request: RequestProjection, entry: dict[str, Any]) -> None:
    request.request_type, request.regime, request.state = entry["request_type"], entry["regime"], entry["state"]
    _deadlines(request, entry)


def _deadlines(request: RequestProjection, entry: dict[str, Any]) -> None:
    request.due_at, request.first_due_at = entry["due_at"], entry["due_at"]
    request.confirm_by = entry.get("confirm_by")


def _verified(request: RequestProjection, entry: dict[str, Any]) -> None:
    request.verification, request.verified_at = entry["level"], entry["time"]
    request.verification_wait_seconds = int(_seconds_between(request.received_at, entry["time"]))
    if request.state == "awaiting-verification":
        request.state = "verified"


def _linked(request: RequestProjection, entry: dict[str, Any]) -> None:
    request.state, request.duplicate_of = "duplicate", entry["refs"]["duplicate_of"]
    request.completed_at, request.outcome = entry["time"], "duplicate"


def _extended(request: RequestProjection, entry: dict[str, Any]) -> None:
    request.due_at, request.extended_at = entry["due_at"], entry["time"]


def _started(request: RequestProjection, entry: dict[str, Any]) -> None:
    subjects = list(entry.get("subjects", ()))
    request.state, request.started_at = "running", entry["time"]
    request.subjects, request.subject_ref = json.dumps(subjects), (subjects[0] if subjects else None)


def _closed(state: str) -> Apply:
    def close(request: RequestProjection, entry: dict[str, Any]) -> None:
        request.state, request.completed_at = state, entry["time"]
        request.outcome = entry.get("outcome", state)
    return close


def _certified(request: RequestProjection, entry: dict[str, Any]) -> None:
    request.certificate_id = entry["refs"]["certificate"]


def _seconds_between(start: str, end: str) -> float:
    return max(0.0, (parse_time(end) - parse_time(start)).total_seconds())


_BY_KIND: dict[str, Apply] = {
    "request-received": _received, "request-confirmed": _confirmed, "request-verified": _verified,
    "request-linked": _linked, "request-extended": _extended, "request-started": _started,
    "request-completed": _closed("completed"), "request-refused": _closed("refused"),
    "request-discarded": _closed("discarded"), "certificate-issued": _certified,
}
REQUEST_ENTRY_KINDS = frozenset(_BY_KIND)
