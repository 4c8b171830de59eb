"""The emulator's parts wired together: options, clock, data, mailboxes, subscriptions, delivery."""

from __future__ import annotations

import random
import threading
from collections import Counter

from .clock import Clock
from .delivery import Dispatcher
from .faults import Faults
from .identity import Identity
from .ids import IdFactory
from .mailbox import Mailboxes
from .options import Options
from .store import BookingStore
from .subscriptions import Subscriptions
from .traffic import Traffic


class RequestCounter:
    """Requests counted by "METHOD route status" (route = the URL rule, ids left as placeholders)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, method: str, route: str, status: int) -> None:
        """Count one answered request."""
        with self._lock:
            self._counts[f"{method} {route} {status}"] += 1

    def snapshot(self) -> dict[str, int]:
        """Current counts."""
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        """Zero all counts."""
        with self._lock:
            self._counts.clear()


class Emulator:
    """One emulated tenant. ``seed`` makes ids, faults and batch ordering reproducible."""

    def __init__(self, *, seed: int | None = None, **options: object) -> None:
        self.seed = seed
        self.options = Options()
        self.options.update(options)
        self.rng = random.Random(seed)
        self.clock = Clock()
        self.ids = IdFactory(seed)
        self.faults = Faults(seed)
        self.identity = Identity()
        self.tenant_id = self.options.tenant_id or self.ids.guid()
        self.store = BookingStore(self.clock, self.ids, self.options)
        self.mailboxes = Mailboxes(self.store, self.options)
        self.dispatcher = Dispatcher(self.options, self.faults)
        self.subscriptions = Subscriptions(self.clock, self.ids, self.options, self.mailboxes, self.dispatcher, self.tenant_id)
        self.requests = RequestCounter()
        self.traffic = Traffic(self.store)

    def start(self) -> None:
        """Start background delivery."""
        self.dispatcher.start()

    def stop(self) -> None:
        """Stop traffic and delivery."""
        self.traffic.stop()
        self.dispatcher.stop()

    def reset(self) -> None:
        """Back to an empty tenant with no faults, counters or clock offset (options are kept)."""
        self.traffic.stop()
        with self.store.lock:
            self.store.businesses.clear()
            self.mailboxes.logs.clear()
            self.mailboxes.appointment_of.clear()
        with self.subscriptions.lock:
            self.subscriptions.items.clear()
        self.dispatcher.clear()
        self.faults.clear()
        self.requests.reset()
        self.clock.reset()
