"""OData query options of message lists: ``$filter``, ``$orderby`` and ``$top``/``$skip`` paging.

learn: message-list. ``$filter`` takes comparisons of the date properties (``receivedDateTime ge
2026-01-01T00:00:00Z``) and ``eq``/``ne`` on the boolean ones, joined with ``and``; anything else
is a 400. With both ``$filter`` and ``$orderby``, Outlook wants the sorted properties to open the
filter in the same order, or it answers 400 ``InefficientFilter``. Pages are 10 messages by
default (``$top`` up to 1,000) and, unlike Bookings, a ``$top`` page still has an
``@odata.nextLink``, which continues with ``$skip``. Default order: newest first.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlencode

from .errors import GraphError, bad_request
from .timefmt import parse_instant

DATES = ("receivedDateTime", "sentDateTime", "createdDateTime", "lastModifiedDateTime")
BOOLEANS = ("isRead", "isDraft", "hasAttachments")
SORTABLE = (*DATES, "subject", "importance")
DEFAULT_PAGE = 10
MAX_PAGE = 1000
_OPERATORS = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "gt": lambda a, b: a > b,
              "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b}
_CLAUSE = re.compile(r"^\s*(\w+)\s+(eq|ne|gt|ge|lt|le)\s+(\S+)\s*$", re.IGNORECASE)

Clause = tuple[str, str, object]


def parse_filter(text: str) -> list[Clause]:
    """The ``and``-joined clauses of a ``$filter``; a clause the emulator cannot evaluate is a 400."""
    clauses = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE) if text.strip() else []:
        match = _CLAUSE.match(part)
        name = _canonical(match.group(1), (*DATES, *BOOLEANS)) if match else None
        if name in DATES:
            value: object = parse_instant(match.group(3).strip("'"), "$filter")
        elif name in BOOLEANS and match.group(2).lower() in ("eq", "ne") and match.group(3).lower() in ("true", "false"):
            value = match.group(3).lower() == "true"
        else:
            raise bad_request(f"Invalid filter clause: '{part.strip()}'.")
        clauses.append((name, match.group(2).lower(), value))
    return clauses


def matches(data: dict, clauses: list[Clause]) -> bool:
    """Whether a message's JSON satisfies every clause."""
    for name, operator, value in clauses:
        actual = parse_instant(data[name], name) if isinstance(value, datetime) else bool(data.get(name))
        if not _OPERATORS[operator](actual, value):
            return False
    return True


def parse_orderby(text: str, clauses: list[Clause]) -> list[tuple[str, bool]]:
    """``(property, descending)`` pairs; newest first when none is given."""
    if not text.strip():
        return [("receivedDateTime", True)]
    order = []
    for part in text.split(","):
        name, _, direction = part.strip().partition(" ")
        canonical = _canonical(name, SORTABLE)
        if canonical is None or direction.strip().lower() not in ("", "asc", "desc"):
            raise bad_request(f"Invalid $orderby: '{part.strip()}'.")
        order.append((canonical, direction.strip().lower() == "desc"))
    filtered = list(dict.fromkeys(name for name, _, _ in clauses))
    if clauses and filtered[:len(order)] != [name for name, _ in order]:
        raise GraphError(400, "InefficientFilter", "The restriction or sort order is too complex for this operation.")
    return order


def sort(items: list[dict], order: list[tuple[str, bool]]) -> list[dict]:
    """Items (in arrival order) sorted by several keys; ties keep arrival order, reversed when descending,
    so the newest of messages received in the same second comes first."""
    ranked = list(enumerate(items))
    for name, descending in reversed(order):
        ranked.sort(key=lambda pair: (str(pair[1].get(name) or ""), pair[0]), reverse=descending)
    return [data for _, data in ranked]


def page(items: list[dict], args: dict[str, str], base_url: str) -> tuple[list[dict], str | None]:
    """One page and the absolute link to the next (``$skip`` advanced), None on the last page."""
    size, skip = _number(args, "$top", DEFAULT_PAGE), _number(args, "$skip", 0)
    if size < 1 or size > MAX_PAGE:
        raise bad_request(f"Invalid value '{args['$top']}' for $top.")
    chosen = items[skip:skip + size]
    if skip + size >= len(items):
        return chosen, None
    return chosen, f"{base_url}?{urlencode({**args, '$top': str(size), '$skip': str(skip + size)})}"


def _number(args: dict[str, str], name: str, default: int) -> int:
    value = args.get(name, str(default))
    if not value.isdigit():
        raise bad_request(f"Invalid value '{value}' for {name}.")
    return int(value)


def _canonical(name: str, known: tuple[str, ...]) -> str | None:
    return next((k for k in known if k.lower() == name.lower()), None)
