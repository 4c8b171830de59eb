"""A sorted (sort value, id) index: range scans and keyset paging in O(log n) per page."""

from __future__ import annotations

import bisect
from collections.abc import Iterator

Key = tuple[float, str]


class SortedIndex:
    """Ids ordered by a numeric sort value (appointment start, insertion sequence)."""

    def __init__(self, keys: list[Key] | None = None) -> None:
        self._keys: list[Key] = sorted(keys or [])

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, value: float, item_id: str) -> None:
        """Insert one id."""
        bisect.insort(self._keys, (value, item_id))

    def remove(self, value: float, item_id: str) -> None:
        """Remove one id (no-op when absent)."""
        position = bisect.bisect_left(self._keys, (value, item_id))
        if position < len(self._keys) and self._keys[position] == (value, item_id):
            del self._keys[position]

    def scan(self, *, after: Key | None = None, lower: float = float("-inf"), upper: float = float("inf")) -> Iterator[Key]:
        """Keys with lower <= value < upper, strictly after the ``after`` key when given."""
        start = bisect.bisect_left(self._keys, (lower, ""))
        if after is not None:
            start = max(start, bisect.bisect_right(self._keys, after))
        keys = self._keys
        for position in range(start, len(keys)):
            key = keys[position]
            if key[0] >= upper:
                return
            yield key

    def at(self, position: int) -> Key:
        """The key at a position (random picks by the traffic simulator)."""
        return self._keys[position]
