"""Simulated booking traffic: creates, reschedules, cancellations and customer edits at a rate.

Operations go through the store, so they change the mailbox calendars and produce notifications
exactly as API writes do. The sequence of operations is fixed by the seed; timing is wall-clock.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from . import seed as seeding
from .errors import GraphError
from .store import BookingStore, Business
from .timefmt import date_time_time_zone

OPERATIONS = ("create", "reschedule", "cancel", "edit_customer", "edit_appointment_customer")
WEIGHTS = (5, 2, 1, 1, 1)


class Traffic:
    """One background traffic run at a time."""

    def __init__(self, store: BookingStore) -> None:
        self.store = store
        self.counts: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._settings: dict = {}

    def start(self, *, rate: float, count: int | None = None, duration: float | None = None, seed: int = 0) -> dict:
        """Start a run of ``count`` operations or ``duration`` seconds (or until stopped) at ``rate`` per second."""
        self.stop()
        if rate <= 0:
            raise GraphError(400, "BadRequest", "rate must be positive")
        self._stop = threading.Event()
        self.counts = Counter()
        self._settings = {"rate": rate, "count": count, "duration": duration, "seed": seed}
        self._thread = threading.Thread(target=self._run, args=(random.Random(seed), rate, count, duration, self._stop),
                                        name="graph-traffic", daemon=True)
        self._thread.start()
        return self.status()

    def stop(self) -> dict:
        """Stop the current run (returns at once if none)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return self.status()

    def status(self) -> dict:
        """Settings, whether running, and operations done so far by kind."""
        running = self._thread is not None and self._thread.is_alive()
        return {"running": running, **self._settings, "done": dict(self.counts)}

    def _run(self, rng: random.Random, rate: float, count: int | None, duration: float | None, stop: threading.Event) -> None:
        deadline = time.monotonic() + duration if duration else None
        done = 0
        while not stop.is_set() and (count is None or done < count) and (deadline is None or time.monotonic() < deadline):
            operation = rng.choices(OPERATIONS, WEIGHTS)[0]
            with self.store.lock:
                businesses = list(self.store.businesses.values())
                if businesses and getattr(self, f"_{operation}")(rng, rng.choice(businesses)):
                    self.counts[operation] += 1
            done += 1
            stop.wait(1.0 / rate)

    # Operations: each returns whether it found something to do. -------------------------------------
    def _create(self, rng: random.Random, business: Business) -> bool:
        collections = business.collections
        if not collections["services"].items or not collections["customers"].items:
            return False
        context = {"tz": seeding.business_zone(business),
                   "staff": list(collections["staffMembers"].items.values()) or [{"id": None}],
                   "services": list(collections["services"].items.values()),
                   "questions": list(collections["customQuestions"].items.values()),
                   "customers": list(collections["customers"].items.values())}
        body = seeding.appointment_body(rng, context, self.store.clock.now(), 1, 30)
        self.store.create_appointment(business.id, body)
        return True

    def _pick(self, rng: random.Random, business: Business) -> str | None:
        return business.by_start.at(rng.randrange(len(business.by_start)))[1] if len(business.by_start) else None

    def _reschedule(self, rng: random.Random, business: Business) -> bool:
        appointment_id = self._pick(rng, business)
        if appointment_id is None:
            return False
        start, end = (datetime.fromtimestamp(t, timezone.utc) for t in business.times[appointment_id])
        shift = timedelta(minutes=15 * rng.randrange(-96, 97) or 15)
        self.store.update_appointment(business.id, appointment_id, {"startDateTime": date_time_time_zone(start + shift),
                                                                    "endDateTime": date_time_time_zone(end + shift)})
        return True

    def _cancel(self, rng: random.Random, business: Business) -> bool:
        appointment_id = self._pick(rng, business)
        if appointment_id is not None:
            self.store.cancel_appointment(business.id, appointment_id, "Cancelled by the customer.")
        return appointment_id is not None

    def _edit_customer(self, rng: random.Random, business: Business) -> bool:
        customers = business.collections["customers"].items
        if not customers:
            return False
        customer_id = rng.choice(list(customers))
        phone = f"+1 555 {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"
        self.store.update_entity(business.id, "customers", customer_id, {"phones": [{"number": phone, "type": "mobile"}]})
        return True

    def _edit_appointment_customer(self, rng: random.Random, business: Business) -> bool:
        appointment_id = self._pick(rng, business)
        if appointment_id is None:
            return False
        current = business.appointment(appointment_id)["customers"]
        if not current or any(c["customerId"] not in business.collections["customers"].items for c in current):
            return False  # a staff edit in Bookings sends back existing customers only (PATCH refuses others)
        customers = [{**c, "emailAddress": f"updated{rng.randrange(1000)}@example.com"} for c in current]
        self.store.update_appointment(business.id, appointment_id, {"customers": customers})
        return True
