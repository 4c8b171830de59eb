"""Collecting the answers of a batched Graph call, item by item, without losing the unknown ones.

A `$batch` envelope that times out or fails raises while its items are being read; every item
not answered by then has an unknown outcome (Graph may have acted on it), which the caller
settles by reading back. So the answer per id is an ItemResult, or None for "unknown".
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from connector import GraphError, ItemResult, NotFound, OutcomeUnknown, Throttled, Unavailable


def answers(results: Iterator[ItemResult[Any]], ids: Iterable[str]) -> dict[str, ItemResult[Any] | None]:
    """Id -> its answer, or None when the envelope carrying it failed."""
    got: dict[str, ItemResult[Any]] = {}
    try:
        for item in results:
            got[item.id] = item
    except GraphError:
        pass   # the envelope's own failure: the items not yet answered are unknown, not failed
    return {i: got.get(i) for i in ids}


def unknown(item: ItemResult[Any] | None) -> bool:
    """Whether a write's outcome is unknown (no answer, a timeout, a 5xx, throttled): read back."""
    return item is None or isinstance(item.error, (OutcomeUnknown, Unavailable, Throttled))


def gone(item: ItemResult[Any] | None) -> bool:
    """Whether Graph answered 404: the object is not there (for a DELETE: done)."""
    return item is not None and isinstance(item.error, NotFound)
