"""The receiver's view of the subscriptions: which ids are ours, with their clientState hashes.

`SubscriptionLookup.find(ids)` answers for every id of one POST with at most one query, behind
two caches: known subscriptions for a short time, and unknown ids in a bounded negative cache.
So a flood of forged ids costs at most one query per POST (the same as the inbox write a genuine
POST costs), and a repeated forged id none at all.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, or_, select

from database.engine import read_only
from database.times import format_time
from state.subscriptions import ROTATED, GraphSubscription

# A known subscription's row is reused for this long: a burst costs one query, and a removed
# subscription stops being accepted within this time.
KNOWN_TTL_SECONDS = 30.0
# Unknown ids are remembered at most this many at a time, oldest dropped first: a flood of
# random ids evicts earlier ones instead of growing memory (about 150 bytes each, so ~1.5 MB).
NEGATIVE_CACHE_SIZE = 10_000
# ... and for this long. Graph gives each subscription a fresh GUID and a notification can only
# arrive after its create, whose pending row answers for it (never cached as unknown), so an id
# unknown once stays unknown; the TTL only bounds how long a row an operator restores by hand
# stays refused.
NEGATIVE_TTL_SECONDS = 300.0


@dataclass(frozen=True)
class KnownSubscription:
    """What the receiver needs of one subscription row (a pending row when it stands in)."""

    subscription_id: str
    business_id: str
    mailbox_user_id: str | None
    client_state_hash: bytes
    client_state_key_id: str
    accept_until: str | None   # a rotated row's deadline (stored time text); None while active
    resource: str = ""          # what it watches: a mailbox's events, or the privacy mailbox's Inbox

    def accepted_at(self, now: datetime) -> bool:
        """Still to be accepted at `now` (a rotated row only until its deadline)."""
        return self.accept_until is None or self.accept_until > format_time(now)


def _known(row: GraphSubscription) -> KnownSubscription:
    return KnownSubscription(row.subscription_id, row.business_id, row.mailbox_user_id, row.client_state_hash,
                             row.client_state_key_id, row.accept_until, row.resource)


def find_subscriptions(engine: Engine, ids: Iterable[str], now: datetime) -> tuple[dict[str, KnownSubscription],
                                                                                  list[KnownSubscription]]:
    """({id: its accepted row}, pending rows) in one query; rotated rows count until their accept_until."""
    wanted = list(ids)
    accepted = or_(GraphSubscription.state == "active",
                   (GraphSubscription.state == ROTATED) & (GraphSubscription.accept_until > format_time(now)))
    # A read-only snapshot: on SQLite it takes no write lock, so a busy worker never stalls the receiver.
    with read_only(engine) as connection:
        rows = connection.execute(
            select(GraphSubscription)
            .where((GraphSubscription.subscription_id.in_(wanted) & accepted) | (GraphSubscription.state == "pending"))
        ).all()
    found = {row.subscription_id: _known(row) for row in rows if row.state != "pending"}
    return found, [_known(row) for row in rows if row.state == "pending"]


class SubscriptionLookup:
    """`find_subscriptions` behind the known and unknown caches; thread-safe."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._clock = clock
        self._known: dict[str, tuple[float, KnownSubscription]] = {}
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def find(self, ids: Iterable[str]) -> dict[str, KnownSubscription]:
        """The subscription behind each id that is ours; ids absent from the answer are not."""
        now, wall_now = time.monotonic(), self._clock()
        answer: dict[str, KnownSubscription] = {}
        misses: list[str] = []
        with self._lock:
            for subscription_id in dict.fromkeys(ids):
                known = self._known.get(subscription_id)
                if known and known[0] > now:
                    if known[1].accepted_at(wall_now):   # a rotated row's deadline is exact, not cached
                        answer[subscription_id] = known[1]
                elif self._unknown.get(subscription_id, 0.0) <= now:
                    misses.append(subscription_id)
        if misses:
            answer.update(self._query(misses, now))
        return answer

    def _query(self, misses: list[str], now: float) -> dict[str, KnownSubscription]:
        found, pending = find_subscriptions(self._engine, misses, self._clock())
        answer = dict(found)
        with self._lock:
            for subscription_id, row in found.items():
                self._known[subscription_id] = (now + KNOWN_TTL_SECONDS, row)
            for subscription_id in misses:
                if subscription_id in found:
                    continue
                if len(pending) == 1:
                    # Graph may notify between its 201 and our save: the one pending secret stands
                    # in. Not cached either way, so the promoted row is found at once.
                    answer[subscription_id] = pending[0]
                elif not pending:
                    # With several pending rows we cannot tell whose id this is, but one of them
                    # may be about to get it: only with none pending is an id surely not ours.
                    self._remember_unknown(subscription_id, now)
        return answer

    def _remember_unknown(self, subscription_id: str, now: float) -> None:
        self._unknown[subscription_id] = now + NEGATIVE_TTL_SECONDS
        self._unknown.move_to_end(subscription_id)
        while len(self._unknown) > NEGATIVE_CACHE_SIZE:
            self._unknown.popitem(last=False)
