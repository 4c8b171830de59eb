"""Recoverable Items: what a mailbox still holds after a delete (privacy-facts §2.4, §2.6).

A deleted event (or a deleted or cancelled appointment and its calendar copy, an inference:
both are items of the scheduling mailbox) lands in Recoverable Items > Deletions;
``permanentDelete`` puts it in Purges. Either way Exchange keeps it for
``recoverable_items_days`` (14 by default, 30 at most), and for ever under ``litigation_hold``.
Nothing here is readable through Graph: the control API shows it so erasure tests can say
"may remain in Recoverable Items until …".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from .clock import Clock
from .options import Options
from .timefmt import iso_utc

DELETIONS, PURGES = "deletions", "purges"
# An item, or a function building it: Bookings' deletes keep the compact appointment record and
# render on listing, so a long traffic run does not hold every cancelled appointment as dicts.
Item = dict | Callable[[], dict]


class RecoverableItems:
    """Per mailbox, the deleted items still kept, oldest first."""

    def __init__(self, options: Options, clock: Clock) -> None:
        self.options = options
        self.clock = clock
        self._items: dict[str, list[dict]] = {}
        self._lock = threading.Lock()

    def keep(self, mailbox: str, kind: str, item_id: str, item: Item, folder: str = DELETIONS) -> None:
        """Keep a deleted item (an event or an appointment as it was)."""
        now = self.clock.now()
        entry = {"kind": kind, "id": item_id, "folder": folder, "deletedDateTime": iso_utc(now),
                 "keptUntil": iso_utc(now + timedelta(days=self.options.recoverable_items_days)), "item": item}
        with self._lock:
            self._items.setdefault(mailbox, []).append(entry)

    def purge(self, mailbox: str, item_id: str) -> bool:
        """Move a kept item from Deletions to Purges; False when the mailbox holds no such item."""
        with self._lock:
            for entry in self._items.get(mailbox, []):
                if entry["id"] == item_id and entry["folder"] == DELETIONS:
                    entry["folder"] = PURGES
                    return True
        return False

    def listed(self, mailbox: str | None = None) -> dict[str, list[dict]]:
        """Kept items per mailbox; those past their retention are gone first, unless a hold keeps them."""
        now = iso_utc(self.clock.now())
        with self._lock:
            if not self.options.litigation_hold:
                for key, entries in self._items.items():
                    self._items[key] = [e for e in entries if e["keptUntil"] > now]
            kept = {key: list(entries) for key, entries in self._items.items() if mailbox in (None, key)}
        return {key: [{**e, "item": e["item"]() if callable(e["item"]) else e["item"]} for e in entries]
                for key, entries in kept.items()}

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
