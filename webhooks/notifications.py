"""Strict parsing of what Graph posts: change notifications and lifecycle notifications.

Shapes follow graph-facts.md §2.5 and §2.7 (Graph's `changeNotificationCollection`). Anything
else is rejected with the JSON paths that were wrong, never the values: a forged body may
carry anything, and an error message is no place to repeat it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

# Graph ids and tokens are short; these bounds keep a hostile body from costing much.
GraphId = Annotated[str, StringConstraints(min_length=1, max_length=512)]
ClientState = Annotated[str, StringConstraints(min_length=1, max_length=128)]
MAX_ITEMS = 1000


class ResourceData(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    id: GraphId
    odata_type: str | None = Field(default=None, alias="@odata.type", max_length=256)
    odata_etag: str | None = Field(default=None, alias="@odata.etag", max_length=256)


class ChangeNotification(BaseModel):
    """One item of a change notification POST."""

    model_config = ConfigDict(extra="allow", frozen=True)

    subscriptionId: GraphId
    clientState: ClientState
    changeType: Literal["created", "updated", "deleted"]
    resource: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    tenantId: GraphId | None = None
    subscriptionExpirationDateTime: datetime | None = None
    resourceData: ResourceData | None = None
    id: GraphId | None = None


class LifecycleNotification(BaseModel):
    """One item of a lifecycle notification POST."""

    model_config = ConfigDict(extra="allow", frozen=True)

    subscriptionId: GraphId
    clientState: ClientState
    lifecycleEvent: Literal["reauthorizationRequired", "subscriptionRemoved", "missed"]
    tenantId: GraphId | None = None
    subscriptionExpirationDateTime: datetime | None = None


class ChangeNotificationCollection(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    value: Annotated[list[ChangeNotification], Field(min_length=1, max_length=MAX_ITEMS)]


class LifecycleNotificationCollection(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    value: Annotated[list[LifecycleNotification], Field(min_length=1, max_length=MAX_ITEMS)]


Notification = ChangeNotification | LifecycleNotification


class MalformedNotification(ValueError):
    """The body is not a notification collection; `problems` lists the bad JSON paths."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_changes(body: bytes) -> list[ChangeNotification]:
    """The items of a change notification POST, or MalformedNotification."""
    return _parse(ChangeNotificationCollection, body).value


def parse_lifecycle(body: bytes) -> list[LifecycleNotification]:
    """The items of a lifecycle notification POST, or MalformedNotification."""
    return _parse(LifecycleNotificationCollection, body).value


def _parse(model: type[BaseModel], body: bytes):  # type: ignore[no-untyped-def]
    try:
        return model.model_validate_json(body, strict=False)
    except ValidationError as exc:
        problems = [
            f"{'/'.join(str(p) for p in error['loc']) or '(body)'}: {error['type']}" for error in exc.errors()[:20]
        ]
        raise MalformedNotification(problems) from None
