"""The emulator's parts wired together: options, clock, data, mailboxes, subscriptions, delivery."""

from __future__ import annotations

import random

from .clock import Clock
from .delivery import Dispatcher
from .faults import Faults
from .identity import Identity
from .ids import IdFactory
from .bookings_mail import BookingsMailer
from .mail import Outbox
from .mailbox import Mailboxes
from .messages import MailStore
from .options import Options
from .request_log import ObjectLog, RequestCounter, RequestLog
from .store import BookingStore
from .subscriptions import Subscriptions
from .throttle import MailboxLimits
from .traffic import Traffic


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
        self.request_log = RequestLog(self.options.request_log_size)
        self.object_log = ObjectLog(self.options.object_log_size)
        self.limits = MailboxLimits(self.options)
        self.outbox = Outbox()
        self.mail = MailStore(self.clock, self.ids, self._business_user_id)
        self.subscriptions.watch_mail(self.mail)
        self.mailer = BookingsMailer(self.store, self.outbox, self.options, self.clock)
        self.traffic = Traffic(self.store)

    def _business_user_id(self, mailbox: str) -> str | None:
        """The user id of a business's scheduling mailbox (messages there name it), None for other addresses."""
        with self.store.lock:
            return next((b.mailbox_user_id for b in self.store.businesses.values() if b.id.lower() == mailbox), None)

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
            self.store.interner.clear()
            self.mailboxes.logs.clear()
            self.mailboxes.appointment_of.clear()
            self.mailboxes.patches.clear()
            self.mailboxes.deleted_copies.clear()
            self.mailboxes.recoverable.clear()
        with self.subscriptions.lock:
            self.subscriptions.items.clear()
            self.subscriptions.history.clear()
        self.dispatcher.clear()
        self.faults.clear()
        self.requests.reset()
        self.request_log.reset(self.options.request_log_size)
        self.object_log.reset(self.options.object_log_size)
        self.limits.reset()
        self.outbox.clear()
        self.mail.clear()
        self.clock.reset()
