"""What the request page shows of one request, read without decrypting anything: its projection,
its deadline, what it needs before it may run, what the officer may do with it now, its timeline,
and for an erasure the future appointments it would touch.

Which decision a state allows is ledger/requests.py's to say; this only offers the forms a state
can use, and the ledger refuses what it does not allow whatever the page offered.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from dashboard.entries import EntryRow, subject_entries
from dashboard.request_appointments import ERASURE_TYPES, FutureAppointment, future_appointments
from dashboard.request_deadlines import days_left, urgency
from database.times import parse_time
from ledger.models import RequestProjection
from ledger.requests import OPEN_STATES, OPT_OUT, required_level, why_not_startable
from state import request_runs
from state.exports import ExportRow, latest_export
from state.request_runs import QueuedRun

# The states in which each decision is offered (ledger/requests.py decides; these mirror it).
DECISIONS = {
    "confirm": ("draft",), "discard": ("draft",),
    "verify": ("awaiting-verification", "verified"),
    "extend": ("awaiting-verification", "verified", "running"),
    "reject": ("awaiting-verification", "verified", "running"),
    "run": ("verified",),
}


@dataclass(frozen=True)
class RequestFacts:
    """One request as its page shows it."""

    request: RequestProjection
    days_left: int | None
    urgency: str | None
    needed: str
    why_not_startable: str | None
    timeline: list[EntryRow]
    appointments: list[FutureAppointment]
    run: QueuedRun | None           # the officer's intent to run it, and how far the job got
    export: ExportRow | None        # its live access or portability archive
    extendable: bool            # not an opt-out, not extended yet, and the first period still running

    def offers(self, decision: str) -> bool:
        """Whether the page offers the decision's form in the request's state."""
        if decision == "extend" and not self.extendable:
            return False
        return self.request.state in DECISIONS[decision]

    @property
    def erasure(self) -> bool:
        return self.request.request_type in ERASURE_TYPES


def request_facts(session: Session, request_id: str, now: datetime, alert_days: int) -> RequestFacts | None:
    """The request's facts as of `now`, or None when the ledger knows no such request."""
    request = session.get(RequestProjection, request_id)
    if request is None:
        return None
    left = days_left(request.due_at, now) if request.state in OPEN_STATES and request.due_at else None
    timeline = subject_entries(session, request.requester_ref) if request.requester_ref else []
    erasure_to_run = request.request_type in ERASURE_TYPES and request.state == "verified" and request.requester_ref
    appointments = future_appointments(session, request.requester_ref, now) if erasure_to_run else []
    extendable = (request.request_type != OPT_OUT and request.extended_at is None and request.first_due_at is not None
                  and now < parse_time(request.first_due_at))
    return RequestFacts(request, left, None if left is None else urgency(left, alert_days),
                        required_level(request.regime or "", request.request_type or ""), why_not_startable(request),
                        timeline, appointments, request_runs.run(session, request_id),
                        latest_export(session, request_id), extendable)
