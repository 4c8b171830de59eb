"""Synchronous Graph primitives over the connector's loop: JSON calls, streamed pages, batches.

Every method may be called from any thread; the work itself runs on the LoopRunner's loop.
Pages are fetched one at a time as the caller iterates, so a 100,000-appointment listing never
holds more than one page in memory.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

from .batch import MAX_BATCH, BatchRequest, BatchResponse, send_batch
from .runner import LoopRunner

if TYPE_CHECKING:
    from .http import GraphHttp

T = TypeVar("T")
Page = dict[str, Any]


class GraphSession:
    """The sync face of GraphHttp; the Bookings, Mailbox and Subscriptions APIs are built on it."""

    def __init__(self, runner: LoopRunner, http: GraphHttp) -> None:
        self.runner = runner
        self.http = http

    def get(self, path: str, *, mailbox: str | None, params: Mapping[str, str] | None = None,
            headers: Mapping[str, str] | None = None) -> Any:
        """GET a path (or absolute URL) and return its JSON."""
        return self.runner.call(self.http.request("GET", path, mailbox=mailbox, params=params, headers=headers))

    def send(self, method: str, path: str, *, mailbox: str | None, body: Any = None,
             headers: Mapping[str, str] | None = None) -> Any:
        """Send a write; POST is never re-sent after a timeout (OutcomeUnknown instead)."""
        return self.runner.call(self.http.request(method, path, mailbox=mailbox, body=body, headers=headers))

    def pages(self, path: str, *, mailbox: str | None, params: Mapping[str, str] | None = None,
              headers: Mapping[str, str] | None = None) -> Iterator[Page]:
        """Each page of a collection, following `@odata.nextLink` until it is absent (never `$top`)."""
        page = self.get(path, mailbox=mailbox, params=params, headers=headers)
        while True:
            yield page
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            page = self.get(next_link, mailbox=mailbox, headers=headers)

    def items(self, path: str, parse: Callable[[Mapping[str, Any]], T], *, mailbox: str | None,
              params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None) -> Iterator[T]:
        """Every item of a collection, parsed, page by page."""
        for page in self.pages(path, mailbox=mailbox, params=params, headers=headers):
            for item in page.get("value", ()):
                yield parse(item)

    def batch(self, requests: Iterable[BatchRequest], *, mailbox: str | None) -> Iterator[BatchResponse]:
        """Send requests in $batch envelopes of 20, yielding each item's answer as batches complete."""
        pending = iter(requests)
        while chunk := list(islice(pending, MAX_BATCH)):
            answers = self.runner.call(send_batch(self.http, chunk, mailbox=mailbox))
            yield from (answers[r.id] for r in chunk)

    def typed(self, call: Callable[[Any], Awaitable[T]], *, method: str, route: str,
              mailbox: str | None = None, idempotent: bool | None = None) -> T:
        """Run a typed SDK call, `call(GraphServiceClient)`, where speed does not matter."""
        return self.runner.call(
            self.http.typed(call, method=method, route=route, mailbox=mailbox, idempotent=idempotent)
        )

