"""JSON `$batch`: bodies built by us, failed items retried alone.

msgraph-core's BatchRequestContent loses JSON bodies, ignores the request id and spells
dependsOn as "depends_on" (sdk-notes §2), so the envelope is built here. Graph answers a batch
200 even when items inside it were throttled; the RetryPolicy then re-sends only the items that
got a 429/503 (or 504 when idempotent), plus those that failed with 424 because a dependency
they need is being re-sent, honouring the largest Retry-After among them.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import GraphError, Throttled, redact_path
from .retry import is_idempotent

if TYPE_CHECKING:
    from .http import GraphHttp


def status_label(status: int | None) -> str:
    """A low-cardinality status for metrics: "2xx", the error's code ("429"), or "none" (no answer)."""
    if not status:
        return "none"
    return "2xx" if 200 <= status < 300 else str(status)

MAX_BATCH = 20  # Graph's limit per $batch


def unique_ids(ids: Iterable[str]) -> Iterator[str]:
    """The ids in order without repeats: an id is also the request id inside a $batch, where a
    repeat fails the whole batch."""
    seen: set[str] = set()
    for item in ids:
        if item not in seen:
            seen.add(item)
            yield item


def relative_url(link: str) -> str:
    """An absolute Graph URL (a nextLink) as a $batch item URL: relative to the version root."""
    parts = urlsplit(link)
    path = "/" + parts.path.lstrip("/").partition("/")[2]
    return f"{path}?{parts.query}" if parts.query else path


@dataclass(frozen=True)
class BatchRequest:
    """One request inside a batch; `url` is relative to the version root, e.g. /users/x."""

    id: str
    method: str
    url: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    # False: never re-sent once Graph may have acted (a timeout, a 504), even for PATCH or DELETE;
    # the caller settles the outcome by reading back. None: by method (connector/retry.py).
    idempotent: bool | None = None

    def to_json(self, pending: set[str]) -> dict[str, Any]:
        """The item as Graph expects it, keeping only dependencies still to be sent."""
        item: dict[str, Any] = {"id": self.id, "method": self.method, "url": self.url}
        headers = dict(self.headers)
        if self.body is not None:
            headers.setdefault("Content-Type", "application/json")  # required inside items with bodies
            item["body"] = self.body
        if headers:
            item["headers"] = headers
        depends = [d for d in self.depends_on if d in pending]
        if depends:
            item["dependsOn"] = depends
        return item


@dataclass(frozen=True)
class BatchResponse:
    """One item's answer: status, lower-cased headers, parsed body, and the error if it failed."""

    id: str
    status: int
    headers: Mapping[str, str]
    body: Any
    error: GraphError | None = None
    envelope_request_id: str | None = None

    @property
    def request_id(self) -> str | None:
        """Graph's request id for this item: its own when Graph gave one, else its envelope's."""
        return self.headers.get("request-id") or self.envelope_request_id


class _ItemsToRetry(Throttled):
    """Some items were refused before Graph acted on them; re-send just those."""


async def send_batch(http: GraphHttp, requests: Sequence[BatchRequest], *, mailbox: str | None) -> dict[str, BatchResponse]:
    """Send up to 20 requests as one $batch; every request id gets a BatchResponse."""
    if not 0 < len(requests) <= MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} requests, got {len(requests)}")
    by_id = {r.id: r for r in requests}
    if len(by_id) != len(requests):
        raise ValueError("request ids in a batch must be unique")
    done: dict[str, BatchResponse] = {}
    last: dict[str, BatchResponse] = {}

    async def attempt() -> None:
        pending = [r for r in requests if r.id not in done]
        answers = await _send_envelope(http, pending, mailbox=mailbox)
        retry = _to_retry(pending, answers)
        for rid, answer in answers.items():
            (last if rid in retry else done)[rid] = answer
        if retry:
            waits = [a.error.retry_after for rid, a in answers.items() if rid in retry and a.error]
            known = [w for w in waits if w is not None]
            raise _ItemsToRetry(
                f"{len(retry)} batch item(s) refused", method="POST", route="/$batch",
                status=429, retry_after=max(known) if known else None,
            )

    try:
        await http.policy.run(attempt)
    except _ItemsToRetry:
        done.update({rid: answer for rid, answer in last.items() if rid not in done})
    return done


async def _send_envelope(http: GraphHttp, pending: Sequence[BatchRequest], *, mailbox: str | None) -> dict[str, BatchResponse]:
    ids = {r.id for r in pending}
    body = {"requests": [r.to_json(ids) for r in pending]}
    idempotent = all(is_idempotent(r.method, r.idempotent) for r in pending)
    # Graph runs at most 4 items of a batch against one mailbox at a time, so a batch takes
    # as many of the mailbox's slots as it could use.
    headers: dict[str, str] = {}
    envelope = await http.request_once(
        "POST", "/$batch", mailbox=mailbox, body=body, idempotent=idempotent, weight=len(pending), answer_headers=headers,
    )
    by_id = {r.id: r for r in pending}
    answers = {item["id"]: _response(http, item, by_id, headers.get("request-id"))
               for item in envelope.get("responses", [])}
    missing = ids - answers.keys()
    if missing:
        raise ValueError(f"the $batch answer lacks {len(missing)} of the request ids")
    return answers


def _response(http: GraphHttp, item: Mapping[str, Any], requests: Mapping[str, BatchRequest],
              envelope_request_id: str | None) -> BatchResponse:
    status = int(item.get("status", 0))
    headers = {k.lower(): str(v) for k, v in (item.get("headers") or {}).items()}
    body = item.get("body")
    error = None
    request = requests[item["id"]]
    # Each item is a Graph call of its own (its 429s are the ones that matter); the envelope
    # itself is counted as POST /$batch.
    http.observe(request.method.upper(), redact_path(request.url), status_label(status))
    if not 200 <= status < 300:
        detail = body.get("error", {}) if isinstance(body, dict) else {}
        error = http.error_from_parts(
            status, headers, code=detail.get("code"), message=detail.get("message"),
            method=request.method.upper(), route=redact_path(request.url),
            idempotent=is_idempotent(request.method, request.idempotent),
        )
    return BatchResponse(id=item["id"], status=status, headers=headers, body=body, error=error,
                         envelope_request_id=envelope_request_id)


def _to_retry(pending: Sequence[BatchRequest], answers: Mapping[str, BatchResponse]) -> set[str]:
    """Ids to re-send: retryable failures, and 424s whose failed dependency is re-sent too."""
    retry = {rid for rid, a in answers.items() if a.error is not None and a.error.retryable}
    grew = True
    while grew:
        grew = False
        for request in pending:
            answer = answers[request.id]
            if request.id not in retry and answer.status == 424 and retry.intersection(request.depends_on):
                retry.add(request.id)
                grew = True
    return retry
