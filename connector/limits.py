"""At most N requests in flight per mailbox, as Outlook's per-mailbox limits require.

A Bookings business is a scheduling mailbox, so every call for one business (and every call on
one user's calendar or mail) counts against the same mailbox. Graph allows 4 concurrent
requests per app and mailbox; going over earns 429s that cost more time than they save.
"""
from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class MailboxLimiter:
    """Per-mailbox counting semaphores with weights; use only on the connector's event loop."""

    def __init__(self, per_mailbox: int = 4) -> None:
        self.per_mailbox = per_mailbox
        self._in_flight: dict[str, int] = defaultdict(int)
        self._peak: dict[str, int] = defaultdict(int)
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def slot(self, mailbox: str | None, weight: int = 1) -> AsyncIterator[None]:
        """Hold `weight` of the mailbox's slots (a $batch holds up to all of them) while inside."""
        if mailbox is None:
            yield
            return
        key = mailbox.lower()
        weight = min(max(weight, 1), self.per_mailbox)
        async with self._changed:
            await self._changed.wait_for(lambda: self._in_flight[key] + weight <= self.per_mailbox)
            self._in_flight[key] += weight
            self._peak[key] = max(self._peak[key], self._in_flight[key])
        try:
            yield
        finally:
            # Released before taking the lock, so a cancellation here cannot leak the slots.
            self._in_flight[key] -= weight
            async with self._changed:
                self._changed.notify_all()

    def peak(self, mailbox: str) -> int:
        """The most slots ever held at once for `mailbox` (a metric, and evidence in tests)."""
        return self._peak.get(mailbox.lower(), 0)
