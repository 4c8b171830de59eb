"""Compact appointment records: one tuple per appointment, equal nested values stored once.

A tenant of 300,000 appointments held as Graph-shaped dicts costs about 5 kB each and keeps
millions of objects under the cyclic garbage collector. Stored as a tuple of field values
(lists frozen into tuples, small equal sub-objects such as custom-question answers, locations
and reminders shared), an appointment costs a fraction of that and, holding no lists, drops out
of the collector's scans. Start, end and duration live in the business's time index and are
rendered on read. Shared values are never changed in place: a PATCH replaces whole fields.
"""

from __future__ import annotations

from datetime import datetime, timezone

from .entities import APPOINTMENT_DEFAULTS, EMPTY_LOCATION, set_appointment_times

FIELDS = ("id", *APPOINTMENT_DEFAULTS, "createdDateTime", "lastUpdatedDateTime")
# Dicts with more keys than this (a customer's booking details) are nearly always unique, so
# sharing them would only grow the table.
_MAX_SHARED_KEYS = 8
_LEAVES = frozenset((str, int, float, bool, type(None)))
_UNSHARED = object()  # the key of a value that is not shared


class Interner:
    """Freezes appointments into records, sharing equal sub-values (hash-consing)."""

    def __init__(self) -> None:
        self._shared: dict[tuple, object] = {}
        self._known: dict[int, tuple[object, object, object]] = {}  # id(value) -> (value, shared form, key)
        self.clear()

    def record(self, appointment: dict) -> tuple:
        """The compact record of an appointment dict."""
        values = (appointment[name] for name in FIELDS)
        return tuple(value if value.__class__ in _LEAVES else self._container(value)[0] for value in values)

    def clear(self) -> None:
        """Forget the shared values (records keep theirs)."""
        self._shared.clear()
        self._known.clear()
        # Every appointment and customer without a location carries this constant: know it up front.
        self._known[id(EMPTY_LOCATION)] = (EMPTY_LOCATION, *self._value(EMPTY_LOCATION))

    def _container(self, value: object) -> tuple[object, object]:
        """(frozen value, its sharing key or _UNSHARED) of a dict or list, known ones at once."""
        known = self._known.get(id(value))
        return known[1:] if known and known[0] is value else self._value(value)

    def _value(self, value: object) -> tuple[object, object]:
        """Freeze a dict or list; leaves are handled inline, as a seeded appointment holds about a hundred."""
        is_dict = isinstance(value, dict)
        shareable = not is_dict or len(value) <= _MAX_SHARED_KEYS
        items, keys = [], []
        for item in value.values() if is_dict else value:
            kind = item.__class__
            if kind is str:
                key = item
            elif kind in _LEAVES:
                key = (kind, item)  # 1, 1.0 and True are equal in Python, not in JSON
            else:
                item, key = self._container(item)
                shareable = shareable and key is not _UNSHARED
            items.append(item)
            keys.append(key)
        frozen = dict(zip(value, items)) if is_dict else tuple(items)
        if not shareable:
            return frozen, _UNSHARED
        shared = self._shared.setdefault((tuple(value) if is_dict else None, *keys), frozen)
        # Shared objects stand for their content by identity, in their parents' keys and on re-freezing.
        key = ("shared", id(shared))
        self._known[id(shared)] = (shared, shared, key)
        return shared, key


def thaw(record: tuple, start: float, end: float) -> dict:
    """The appointment dict of a record (a new dict; nested values are shared, read-only)."""
    appointment = dict(zip(FIELDS, record))
    set_appointment_times(appointment, datetime.fromtimestamp(start, timezone.utc), datetime.fromtimestamp(end, timezone.utc))
    return appointment
