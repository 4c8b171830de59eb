"""Routes of the business mailbox calendar: ``/v1.0/users/{mailbox}/events``, calendarView, delta,
and the writes on an appointment's calendar copy (PATCH, DELETE, permanentDelete)."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, request

from . import identity
from .errors import GraphError, not_found
from .event_copy import checked_patch
from .identity import requires
from .paging import decode_token, encode_token, keyset_page, page_size, take_page
from .responses import collection, context, emulator, graph_json, json_body, no_content, query_args
from .store import Business
from .timefmt import iso_utc, parse_offset_datetime

bp = Blueprint("events", __name__, url_prefix="/v1.0/users/<user>")


def _fragment(user: str, tail: str) -> str:
    return f"users('{quote(user, safe='')}')/{tail}"


@bp.get("/events")
@requires(identity.READ_CALENDARS)
def list_events(user: str) -> Response:
    """Every event of the mailbox calendar, paged."""
    core = emulator()
    with core.store.lock:
        business = core.mailboxes.business_for_user(user)
        return _page(user, "events", business, lambda after: _visible(business.by_start.scan(after=after)))


@bp.get("/events/<event_id>")
@requires(identity.READ_CALENDARS)
def get_event(user: str, event_id: str) -> Response:
    """One event."""
    core = emulator()
    with core.store.lock:
        event = core.mailboxes.event(core.mailboxes.business_for_user(user), event_id)
    if event is None:
        raise not_found()
    return graph_json({"@odata.context": context(_fragment(user, "events/$entity")), **event})


@bp.patch("/events/<event_id>")
@requires(identity.WRITE_CALENDARS)
def update_event(user: str, event_id: str) -> Response:
    """PATCH the calendar copy (200 with the event); Bookings' next change to the appointment re-projects it."""
    fields = checked_patch(json_body())
    core = emulator()
    with core.store.lock:
        event = core.mailboxes.patch_event(core.mailboxes.business_for_user(user), event_id, fields)
    return graph_json({"@odata.context": context(_fragment(user, "events/$entity")), **event})


@bp.delete("/events/<event_id>")
@requires(identity.WRITE_CALENDARS)
def delete_event(user: str, event_id: str) -> Response:
    """DELETE (204): the copy goes to Recoverable Items; the appointment stays (see the options)."""
    return _remove(user, event_id, permanent=False)


@bp.post("/events/<event_id>/permanentDelete")
@requires(identity.WRITE_CALENDARS)
def permanently_delete_event(user: str, event_id: str) -> Response:
    """permanentDelete (204): the copy goes to Recoverable Items > Purges (event-permanentdelete)."""
    return _remove(user, event_id, permanent=True)


def _remove(user: str, event_id: str, *, permanent: bool) -> Response:
    core = emulator()
    with core.store.lock:
        business = core.mailboxes.business_for_user(user)
        event = core.mailboxes.delete_event(business, event_id, permanent=permanent)
    if event:
        _mail_attendees(business, event)
    return no_content()


def _mail_attendees(business: Business, event: dict) -> None:
    """Deleting an organiser's meeting sends its attendees a cancellation (learn: event-delete)."""
    core = emulator()
    recipients = list(dict.fromkeys(a["emailAddress"]["address"] for a in event["attendees"]
                                    if (a.get("emailAddress") or {}).get("address")))
    if recipients:
        core.outbox.add({"kind": "cancellation", "source": "event", "trigger": "eventDelete", "business": business.id,
                         "eventId": event["id"], "appointmentId": core.mailboxes.appointment_of.get(event["id"]),
                         "sentDateTime": iso_utc(core.clock.now()), "recipients": recipients})


def _visible(keys):
    """Keys of appointments whose calendar copy was not deleted through /events."""
    mailboxes = emulator().mailboxes
    return (key for key in keys if mailboxes.visible(key[1]))


@bp.get("/calendarView")
@requires(identity.READ_CALENDARS)
def calendar_view(user: str) -> Response:
    """Events overlapping [startDateTime, endDateTime)."""
    args = query_args()
    start, end = _window(args)
    core = emulator()
    with core.store.lock:
        business = core.mailboxes.business_for_user(user)
        return _page(user, "calendarView", business, lambda after: _visible(business.overlapping(start, end, after)))


@bp.get("/calendarView/delta")
@requires(identity.READ_CALENDARS)
def calendar_view_delta(user: str) -> Response:
    """Delta rounds (§2.9): a full window first, then changes; links carry all state in their token."""
    args = query_args()
    core = emulator()
    size, _ = page_size({}, request.headers.get("Prefer", ""), core.options.page_size)
    with core.store.lock:
        business = core.mailboxes.business_for_user(user)
        log = core.mailboxes.log(business)
        token = args.get("$skiptoken") or args.get("$deltatoken")
        issued = {"g": core.mailboxes.delta_generation, "t": core.clock.now().timestamp()}
        state = decode_token(token) if token else {"w": list(_window(args)), "seq": len(log), "k": None, **issued}
        if not isinstance(state, dict) or "w" not in state:
            raise not_found("The delta token is not valid.")
        _check_not_expired(state)
        start, end = state["w"]
        if "from" in state:  # a round of changes since a deltaLink
            items, more, position = _changes(business, log, state["from"], start, end, size)
            nxt = {"w": state["w"], "from": position, **issued}
        else:  # the initial round: the whole window
            after = tuple(state["k"]) if state["k"] else None
            keys, more = take_page(_visible(business.overlapping(start, end, after)), size)
            items = [core.mailboxes.render(business, business.appointment(k[1])) for k in keys]
            nxt = {**state, "k": list(keys[-1]) if keys else None, **issued}
        final = {"w": state["w"], "from": state.get("seq", len(log)) if "from" not in state else position, **issued}
    base = request.base_url
    extra = {"@odata.nextLink": f"{base}?$skiptoken={encode_token(nxt)}"} if more else \
        {"@odata.deltaLink": f"{base}?$deltatoken={encode_token(final)}"}
    return graph_json({**collection(_fragment(user, "calendarView/delta"), items, None), **extra})


def _check_not_expired(state: dict) -> None:
    """410 Gone for a token of an expired generation or older than ``delta_token_max_age_minutes`` (§2.9).

    Outlook documents only the 410; the code and message are those Graph uses for expired
    directory delta tokens (devblogs 2020, "syncStateNotFound")."""
    core = emulator()
    max_age = core.options.delta_token_max_age_minutes
    too_old = max_age is not None and core.clock.now().timestamp() - state.get("t", 0) > 60 * max_age
    if state.get("g", 0) != core.mailboxes.delta_generation or too_old:
        raise GraphError(410, "SyncStateNotFound",
                         "The sync state generation is not found. The delta token is expired and data must be synchronized again.")


def _changes(business: Business, log: list[str], position: int, start: float, end: float, size: int):
    """Changed events after ``position`` in the log: the event if it still overlaps, else ``@removed``."""
    core = emulator()
    chunk = log[position:position + size]
    items = []
    for event_id in dict.fromkeys(chunk):
        appointment_id = core.mailboxes.appointment_of.get(event_id, "")
        times = business.times.get(appointment_id)
        if times and times[0] < end and times[1] > start and core.mailboxes.visible(appointment_id):
            items.append(core.mailboxes.render(business, business.appointment(appointment_id)))
        else:
            # Deleted, or changed outside the window: Graph reports both as removed (§2.9).
            items.append({"@odata.type": "#microsoft.graph.event", "id": event_id, "@removed": {"reason": "deleted"}})
    return items, position + size < len(log), position + len(chunk)


def _window(args: dict[str, str]) -> tuple[float, float]:
    # Outlook reads a value without an offset as UTC (no Prefer: outlook.timezone is honoured here).
    return (parse_offset_datetime(args.get("startDateTime"), "startDateTime", naive_is_utc=True).timestamp(),
            parse_offset_datetime(args.get("endDateTime"), "endDateTime", naive_is_utc=True).timestamp())


def _page(user: str, tail: str, business: Business, scan) -> Response:
    core = emulator()
    args = query_args()
    size, top = page_size(args, request.headers.get("Prefer", ""), core.options.page_size)
    items, next_link = keyset_page(scan, lambda key: core.mailboxes.render(business, business.appointment(key[1])),
                                   args=args, base_url=request.base_url, size=size, top=top)
    return graph_json(collection(_fragment(user, tail), items, next_link))
