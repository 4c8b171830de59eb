"""Where does a piece of personal data still live? A scan of every surface the emulator holds.

For erasure tests ("does any surface still hold this email, name or phone?"): customers and the
other Bookings entities, appointments as GET-by-id returns them (customers[], legacy fields,
notes, custom-question answers), cancellations, the calendar copies (subject, body, attendees),
the outbox, every mailbox's messages (Inbox, Drafts, Sent Items, Deleted Items, with their
headers), and Recoverable Items. The last are reported with ``recoverable: true``: the service
cannot reach them through Graph, but they are there until their retention ends.
Matching is a case-insensitive substring of any string value; hits name the JSON path.
"""

from __future__ import annotations

from collections.abc import Iterator

from . import entities
from .core import Emulator


def search(core: Emulator, text: str) -> list[dict]:
    """Every place ``text`` appears: {surface, business, id, paths, recoverable[, folder]}."""
    needle = text.lower()
    hits = []
    for surface, business, item_id, value, extra in _surfaces(core):
        paths = list(_paths(value, needle, ""))
        if paths:
            hits.append({"surface": surface, "business": business, "id": item_id, "paths": paths,
                         "recoverable": False, **extra})
    return hits


def _surfaces(core: Emulator) -> Iterator[tuple[str, str | None, str | None, object, dict]]:
    with core.store.lock:
        for business in core.store.businesses.values():
            for kind, collection in business.collections.items():
                for item in collection.items.values():
                    yield kind, business.id, item["id"], item, {}
            for key in business.by_start.scan():
                appointment = business.appointment(key[1])
                yield "appointments", business.id, key[1], entities.render_appointment(
                    appointment, single=True, empty_customers=False, aliases=False), {}
                if core.mailboxes.visible(key[1]):
                    event = core.mailboxes.render(business, appointment)
                    yield "events", business.id, event["id"], event, {}
            for cancelled in business.cancelled:
                yield "cancelledAppointments", business.id, cancelled["id"], cancelled, {}
        for mailbox, items in core.mailboxes.recoverable.listed().items():
            for entry in items:
                yield entry["kind"] + "s", mailbox, entry["id"], entry["item"], {"recoverable": True, "folder": entry["folder"]}
    for mailbox, messages in core.mail.everything().items():
        for message in messages:
            yield "messages", mailbox, message.data["id"], {**message.data, "internetMessageHeaders": message.headers}, \
                {"folder": message.folder}
    for number, mail in enumerate(core.outbox.listed()):
        yield "mail", mail.get("business") or mail.get("from"), str(number), mail, {}


def _paths(value: object, needle: str, path: str) -> Iterator[str]:
    """JSON paths (``customers[0].emailAddress``) of string values containing ``needle``."""
    if isinstance(value, str):
        if needle in value.lower():
            yield path or "$"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, needle, f"{path}.{key}" if path else key)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _paths(item, needle, f"{path}[{index}]")
