"""Counts the dashboard shows of the ledger: records by state, entries by kind and day.

Each is one grouped SQL count over a projection or the entry index, never a decode of entry bodies,
so the overview stays fast however long the chain grows.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import Connection, func, select

from database.times import format_time, parse_time
from ledger.models import EntryIndex, RecordProjection

# Entry times follow seq only nearly: a writer reads the clock before it takes the chain's lock,
# so two appends can swap by a moment. The search for a window's first seq starts this far
# earlier (an hour dwarfs any lock wait), and the exact time filter then does the rest.
_TIME_DISORDER_MARGIN_HOURS = 1


def records_by_state(connection: Connection) -> list[tuple[str, str, int]]:
    """(object type, state, count) of the records the ledger knows of."""
    query = select(RecordProjection.object_type, RecordProjection.state, func.count()) \
        .group_by(RecordProjection.object_type, RecordProjection.state) \
        .order_by(RecordProjection.object_type, RecordProjection.state)
    return [(object_type, state, count) for object_type, state, count in connection.execute(query)]


def entries_by_day(connection: Connection, kinds: Iterable[str], since: str) -> list[tuple[str, str, int]]:
    """(UTC day, kind, count) of the entries of `kinds` at or after `since` (ledger time text)."""
    wanted = set(kinds)
    day = func.substr(EntryIndex.time, 1, 10)
    # Every kind is counted and the unwanted dropped here: with a kind filter in SQL the planner
    # walks the kind index through the whole chain instead of the window's seq range.
    query = select(day, EntryIndex.kind, func.count()).where(
        EntryIndex.seq >= _first_seq_near(connection, _earlier(since)), EntryIndex.time >= since,
    ).group_by(day, EntryIndex.kind).order_by(day, EntryIndex.kind)
    return [(when, kind, count) for when, kind, count in connection.execute(query) if kind in wanted]


def _first_seq_near(connection: Connection, moment: str) -> int:
    """A seq at or before the first entry of time >= `moment`: a binary search over the primary key
    (a few dozen point reads), so the count scans only the window's entries, not the whole chain."""
    low, high = 1, connection.execute(select(func.max(EntryIndex.seq))).scalar() or 0
    while low < high:
        middle = (low + high) // 2
        time = connection.execute(
            select(EntryIndex.time).where(EntryIndex.seq >= middle).order_by(EntryIndex.seq).limit(1)
        ).scalar()
        if time is not None and time < moment:
            low = middle + 1
        else:
            high = middle
    return low


def _earlier(moment: str) -> str:
    return format_time(parse_time(moment) - timedelta(hours=_TIME_DISORDER_MARGIN_HOURS))
