"""Server-driven paging: opaque skip tokens and absolute ``@odata.nextLink`` URLs."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from urllib.parse import urlencode

from .errors import bad_request


def encode_token(payload: object) -> str:
    """Wrap a continuation payload in an opaque URL-safe token."""
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str) -> object:
    """Unwrap a token made by :func:`encode_token`; a damaged token is a 400, as in Graph."""
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        raise bad_request("The skip token is invalid.") from None


def take_page(items: Iterable, size: int) -> tuple[list, bool]:
    """The first ``size`` items and whether more follow (reads one item ahead, never more)."""
    page = list(islice(items, size + 1))
    return page[:size], len(page) > size


def link(base_url: str, args: dict[str, str], token_name: str, token: object) -> str:
    """An absolute URL to the same resource with the query kept and a new token set."""
    query = {k: v for k, v in args.items() if k not in ("$skiptoken", "$deltatoken")}
    query[token_name] = encode_token(token)
    return f"{base_url}?{urlencode(query)}"


def page_size(args: dict[str, str], prefer: str, default: int) -> tuple[int, bool]:
    """Page size and whether ``$top`` was given (with ``$top`` Graph gives no nextLink, §1.5)."""
    if "$top" in args:
        try:
            return max(0, int(args["$top"])), True
        except ValueError:
            raise bad_request(f"Invalid value '{args['$top']}' for $top.") from None
    for part in prefer.split(","):
        name, _, value = part.strip().partition("=")
        if name == "odata.maxpagesize" and value.isdigit():
            return max(1, int(value)), False
    return default, False


def keyset_page(scan: Callable[[object], Iterator], render: Callable[[object], dict], *, args: dict[str, str],
                base_url: str, size: int, top: bool) -> tuple[list[dict], str | None]:
    """One page of a keyset scan: ``scan(after_key)`` yields keys in order; returns items and nextLink."""
    after = decode_token(args["$skiptoken"]) if "$skiptoken" in args else None
    keys, more = take_page(scan(tuple(after) if isinstance(after, list) else after), size)
    next_link = link(base_url, args, "$skiptoken", list(keys[-1])) if more and keys and not top else None
    return [render(key) for key in keys], next_link
