"""The JSON the API takes and gives, as pydantic models: the views parse and answer with them, and
the OpenAPI document is generated from them (dashboard/api/openapi.py), so the two cannot drift.

Nothing personal goes out: a request is shown by its ids, type, states, dates and degree of
verification; the requester's contact details and words stay encrypted in the ledger.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from database.times import parse_time
from ledger.models import RequestProjection
from ledger.requests import (CHANNELS, CLOSED_STATES, EXTENSION_REASONS, LEVELS, METHODS, OPEN_STATES,
                             REFUSAL_REASONS, REQUEST_TYPES, why_not_startable)

RequestType = Literal[REQUEST_TYPES]
Regime = Literal["gdpr", "ccpa"]
State = Literal[OPEN_STATES + CLOSED_STATES]
# Names go into ledger entries (data points matched, corrected fields): names only, of a plain form.
DataPoint = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,39}$")]   # email, phone, address...
FieldName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]     # name, email, phone...
Note = Field(default=None, min_length=1, max_length=2000, description="The officer's note, kept encrypted; never shown by the API.")


class Body(BaseModel):
    """What every request body shares: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class NewRequest(Body):
    """A data-subject request received by an automation (channel `api`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [{"required": ["email"]}, {"required": ["phone"]}]})
    type: RequestType
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9 ().-]{4,31}$")
    regime: Regime | None = Field(default=None, description="Default: the REQUEST_REGIME setting.")
    text: str | None = Field(default=None, max_length=10_000, description="The requester's own words.")
    corrections: dict[FieldName, Annotated[str, Field(max_length=1000)]] = Field(default_factory=dict, max_length=20,
                                        description="Rectification: field name -> the value asked for.")

    @model_validator(mode="after")
    def _answerable(self) -> NewRequest:
        if self.email is None and self.phone is None:
            raise ValueError("give an email address or a telephone number to answer the request by")
        return self


class Confirmation(Body):
    """The confirmation of a draft from the privacy mailbox, correcting its guessed type or regime,
    with the corrections a mailed rectification asks for."""

    type: RequestType | None = None
    regime: Regime | None = None
    corrections: dict[FieldName, Annotated[str, Field(max_length=1000)]] = Field(default_factory=dict, max_length=20,
                                        description="Rectification: field name -> the value asked for.")


class Verification(Body):
    """An identity check: how, and the names (never the values) of the data points matched."""

    method: Literal[METHODS] 
    data_points: list[DataPoint] = Field(min_length=1, max_length=10)
    declaration: bool = Field(default=False, description="A signed declaration under penalty of perjury (CCPA's high degree).")


class RunOrder(Body):
    """The order to run a verified request, with the choice per future appointment of an erasure."""

    choices: dict[str, Literal["cancel", "keep"]] = Field(default_factory=dict, max_length=1000)


class Extension(Body):
    """An extension of the deadline, once, with its reason."""

    reason: Literal[EXTENSION_REASONS]
    note: str | None = Note


class Refusal(Body):
    """A refusal with its reason; the requester is told it and their right to complain."""

    reason: Literal[REFUSAL_REASONS]
    note: str | None = Note


class ListQuery(BaseModel):
    """The filters of the request list."""

    state: State | None = None
    limit: int = Field(default=100, ge=1, le=500)


class Request(BaseModel):
    """A request as the API shows it."""

    request_id: str
    type: RequestType
    regime: Regime
    channel: Literal[CHANNELS]
    state: State
    verification: Literal[LEVELS]
    received_at: AwareDatetime
    due_at: AwareDatetime
    first_due_at: AwareDatetime
    confirm_by: AwareDatetime | None
    extended_at: AwareDatetime | None
    verified_at: AwareDatetime | None
    started_at: AwareDatetime | None
    completed_at: AwareDatetime | None
    duplicate_of: str | None
    outcome: str | None
    certificate_id: str | None
    not_startable_because: str | None = Field(description="Why it may not run now; null when it may.")

    @classmethod
    def of(cls, request: RequestProjection) -> Request:
        """The projection as shown."""
        return cls(request_id=request.request_id, type=request.request_type, regime=request.regime,
                   channel=request.channel, state=request.state, verification=request.verification or "none",
                   received_at=parse_time(request.received_at), due_at=parse_time(request.due_at),
                   first_due_at=parse_time(request.first_due_at), confirm_by=_time(request.confirm_by),
                   extended_at=_time(request.extended_at), verified_at=_time(request.verified_at),
                   started_at=_time(request.started_at), completed_at=_time(request.completed_at),
                   duplicate_of=request.duplicate_of, outcome=request.outcome, certificate_id=request.certificate_id,
                   not_startable_because=why_not_startable(request))


class RequestList(BaseModel):
    """Requests, newest first."""

    requests: list[Request]


class QueuedRun(BaseModel):
    """A run queued: the `requests` job carries it out."""

    request_id: str
    run_state: Literal["queued", "running", "done", "failed"]
    queued_at: AwareDatetime


class FieldProblem(BaseModel):
    """One thing wrong with what was sent: where, and what (never the value sent)."""

    location: list[str | int]
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details: every error the API returns."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldProblem] | None = None


def _time(stamp: str | None) -> datetime | None:
    return parse_time(stamp) if stamp else None
