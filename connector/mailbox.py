"""A mailbox's calendar events (the trigger side of Bookings) and its settings.

Mail is connector/mail.py's: it is sent only from drafts, so that nothing is sent twice (privacy-facts 1.8).

The Bookings mailbox's events are only a "something changed" signal (customer data is stripped
from them, graph-facts §2.1); the delta query keeps a reconciliation watermark fresh cheaply.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from .batch import BatchRequest, unique_ids
from .bookings import item_result
from .models import Event, ItemResult
from .parse import parse_event
from .session import GraphSession, Page

# Outlook answers in the mailbox's zone unless told otherwise.
_UTC = {"Prefer": 'outlook.timezone="UTC"'}


class DeltaRound:
    """One round of calendarView/delta: iterate for the changes; then `delta_link` starts the next.

    A Gone (410) error while iterating means the stored link expired: resync in full.
    """

    def __init__(self, pages: Iterator[Page]) -> None:
        self._pages = pages
        self.delta_link: str | None = None

    def __iter__(self) -> Iterator[Event]:
        for page in self._pages:
            yield from (parse_event(item) for item in page.get("value", ()))
            self.delta_link = page.get("@odata.deltaLink") or self.delta_link


class Mailbox:
    """Events and mail of user mailboxes; every method is synchronous and thread-safe."""

    def __init__(self, session: GraphSession) -> None:
        self._session = session

    @staticmethod
    def _path(user: str, *tail: str) -> str:
        return "/".join(("/users", quote(user, safe="@"), *(quote(t, safe="") for t in tail)))

    def events(self, user: str) -> Iterator[Event]:
        """Every event of the mailbox, streamed page by page."""
        return self._session.items(self._path(user, "events"), parse_event, mailbox=user, headers=_UTC)

    def event(self, user: str, event_id: str) -> Event:
        """One event."""
        return parse_event(self._session.get(self._path(user, "events", event_id), mailbox=user, headers=_UTC))

    def events_by_ids(self, user: str, event_ids: Iterable[str]) -> Iterator[ItemResult[Event]]:
        """GET each event by id (times in UTC), 20 to a $batch; a failed item carries its error."""
        requests = (BatchRequest(id=eid, method="GET", url=self._path(user, "events", eid), headers=_UTC)
                    for eid in unique_ids(event_ids))
        for answer in self._session.batch(requests, mailbox=user):
            value = parse_event(answer.body) if answer.error is None else None
            yield ItemResult(id=answer.id, value=value, error=answer.error)

    def event_documents(self, user: str, event_ids: Iterable[str]) -> Iterator[ItemResult[dict[str, Any]]]:
        """GET each event by id as Graph's JSON with its subject and body (where a Bookings copy may
        carry custom-question answers), 20 to a $batch."""
        requests = (BatchRequest(id=eid, method="GET", url=self._path(user, "events", eid), headers=_UTC)
                    for eid in unique_ids(event_ids))
        return (item_result(answer, answer.body) for answer in self._session.batch(requests, mailbox=user))

    def event_documents_between(
        self, user: str, windows: Mapping[str, tuple[datetime, datetime]]
    ) -> Iterator[ItemResult[list[dict[str, Any]]]]:
        """The events of each named window (calendarView, first page: a window around one
        appointment holds a handful), as Graph's JSON with bodies, 20 windows to a $batch."""
        requests = (BatchRequest(id=key, method="GET", headers=_UTC, url=self._path(user, "calendarView") + "?" + urlencode(
            {"startDateTime": start.isoformat(), "endDateTime": end.isoformat()})) for key, (start, end) in windows.items())
        return (item_result(answer, list((answer.body or {}).get("value", ())))
                for answer in self._session.batch(requests, mailbox=user))

    def update_event(self, user: str, event_id: str, changes: Mapping[str, Any]) -> None:
        """PATCH an event (its body, subject …); needs Calendars.ReadWrite."""
        self._session.send("PATCH", self._path(user, "events", event_id), mailbox=user, body=dict(changes))

    def delete_event(self, user: str, event_id: str) -> None:
        """DELETE an event (to Recoverable Items); needs Calendars.ReadWrite; NotFound: already gone."""
        self._session.send("DELETE", self._path(user, "events", event_id), mailbox=user)

    def update_events(self, user: str, changes: Mapping[str, Mapping[str, Any]]) -> Iterator[ItemResult[None]]:
        """PATCH events, 20 to a $batch, each sent once (a timeout or 5xx: read back, never re-send)."""
        requests = (BatchRequest(id=eid, method="PATCH", url=self._path(user, "events", eid), body=dict(change), idempotent=False)
                    for eid, change in changes.items())
        return (item_result(answer, None) for answer in self._session.batch(requests, mailbox=user))

    def delete_events(self, user: str, event_ids: Iterable[str]) -> Iterator[ItemResult[None]]:
        """DELETE events, 20 to a $batch, each sent once; a 404 item means it was gone already."""
        requests = (BatchRequest(id=eid, method="DELETE", url=self._path(user, "events", eid), idempotent=False)
                    for eid in unique_ids(event_ids))
        return (item_result(answer, None) for answer in self._session.batch(requests, mailbox=user))

    def events_delta(
        self, user: str, start: datetime | None = None, end: datetime | None = None, *, delta_link: str | None = None
    ) -> DeltaRound:
        """Changes in the primary calendar: a first round over [start, end), or the next round
        from a stored `delta_link` (used verbatim: the window is encoded in it)."""
        if delta_link:
            return DeltaRound(self._session.pages(delta_link, mailbox=user, headers=_UTC))
        if start is None or end is None or start.tzinfo is None or end.tzinfo is None:
            raise ValueError("a first delta round needs a timezone-aware start and end")
        params = {"startDateTime": start.isoformat(), "endDateTime": end.isoformat()}
        return DeltaRound(self._session.pages(self._path(user, "calendarView", "delta"), mailbox=user,
                                              params=params, headers=_UTC))

    def time_zone(self, user: str) -> str:
        """The mailbox's time zone (`mailboxSettings/timeZone`): a Booking business's zone lives here,
        not on bookingBusiness. A Windows name ("W. Europe Standard Time") or an IANA one, as the
        tenant's admin set it; needs MailboxSettings.Read."""
        return str(self._session.get(self._path(user, "mailboxSettings", "timeZone"), mailbox=user)["value"])
