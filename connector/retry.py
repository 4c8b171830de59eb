"""The connector's one retry policy: 429, 503, 504 and timeouts, honouring Retry-After.

The SDK's own RetryHandler is switched off (see client.py), so this is the only layer that
re-sends anything. What may be retried is decided where the error is made (errors.py, http.py):
a 429 or 503 means Graph refused before acting, so any method may be re-sent; a timeout or 504
on a POST does not, and surfaces as OutcomeUnknown instead of being retried here.
"""
from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from .errors import GraphError

T = TypeVar("T")
# Sending these twice has the effect of sending them once (a PATCH re-sends the same body).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})


def is_idempotent(method: str, override: bool | None = None) -> bool:
    """Whether a request may be re-sent after a timeout: by method unless the caller knows better."""
    return method.upper() in IDEMPOTENT_METHODS if override is None else override


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; clock, sleep and randomness are injectable for tests."""

    max_attempts: int = 8
    max_total: float = 300.0  # seconds from the first attempt; no retry is started past it
    backoff_base: float = 0.5  # without Retry-After: base * 2^(n-1) seconds, jittered
    backoff_max: float = 30.0
    jitter: float = 0.1  # up to this fraction is added on top of a Retry-After
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = _utcnow
    rand: Callable[[], float] = field(default=random.random)

    def parse_retry_after(self, value: str | None) -> float | None:
        """Seconds to wait from a Retry-After header: delta seconds (fractional too) or HTTP-date."""
        if not value:
            return None
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, (when - self.now()).total_seconds())

    def delay(self, error: GraphError, attempt: int) -> float:
        """Seconds to wait before attempt `attempt + 1` after `error`."""
        if error.retry_after is not None:
            # Never earlier than Graph asked; a little later so a crowd of clients spreads out.
            return error.retry_after * (1 + self.jitter * self.rand())
        step = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return step / 2 + step / 2 * self.rand()

    async def run(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Await `attempt()` until it succeeds, fails for good, or the budget is spent."""
        started = self.clock()

        def wait(state: RetryCallState) -> float:
            return self.delay(state.outcome.exception(), state.attempt_number)  # type: ignore[union-attr, arg-type]

        def stop(state: RetryCallState) -> bool:
            spent = self.clock() - started
            return state.attempt_number >= self.max_attempts or spent + state.upcoming_sleep > self.max_total

        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda e: isinstance(e, GraphError) and e.retryable),
            wait=wait, stop=stop, sleep=self.sleep, reraise=True,
        )
        async def call() -> T:
            # A coroutine function, so tenacity awaits it (it runs plain callables synchronously).
            return await attempt()

        return await retrying(call)
