"""The retry policy: Retry-After honoured (seconds, fractions, HTTP-date), jitter, caps."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from connector.errors import InvalidRequest, OutcomeUnknown, Throttled, Unavailable
from connector.retry import RetryPolicy, is_idempotent

NOW = datetime(2024, 2, 26, 9, 0, tzinfo=timezone.utc)


class FakeTime:
    """A monotonic clock that moves only when the policy sleeps."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def policy(fake: FakeTime, **kw: object) -> RetryPolicy:
    return RetryPolicy(sleep=fake.sleep, clock=fake.clock, now=lambda: NOW, rand=lambda: 0.5, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("header", "seconds"), [
    ("2", 2.0), ("0.25", 0.25), ("1.5", 1.5), (" 3 ", 3.0), ("0", 0.0), ("-4", 0.0),
    ("Mon, 26 Feb 2024 09:00:07 GMT", 7.0), ("Mon, 26 Feb 2024 08:59:00 GMT", 0.0),
    ("soon", None), ("", None), (None, None),
])
def test_retry_after_is_read_as_seconds_fractions_or_http_date(header: str | None, seconds: float | None) -> None:
    """Graph sends whole or fractional seconds; RFC 9110 also allows an HTTP-date."""
    assert policy(FakeTime()).parse_retry_after(header) == seconds


def test_a_retry_after_is_never_shortened_and_jitter_only_adds() -> None:
    """The wait is at least Retry-After and at most Retry-After plus the jitter fraction."""
    p = RetryPolicy(jitter=0.1, rand=lambda: 0.999)
    error = Throttled("HTTP 429", retry_after=2.0)
    assert 2.0 <= p.delay(error, 1) <= 2.2
    assert RetryPolicy(rand=lambda: 0.0).delay(error, 5) == 2.0


def test_without_retry_after_the_backoff_grows_and_is_capped() -> None:
    p = RetryPolicy(backoff_base=0.5, backoff_max=4.0, rand=lambda: 1.0)
    error = Unavailable("HTTP 503")
    assert [p.delay(error, n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_throttling_is_retried_after_the_retry_after_then_succeeds() -> None:
    fake = FakeTime()
    answers = [Throttled("HTTP 429", retry_after=0.5), Unavailable("HTTP 503", retry_after=1.0), "ok"]

    async def attempt() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert asyncio.run(policy(fake, jitter=0.0).run(attempt)) == "ok"
    assert fake.sleeps == [0.5, 1.0]


@pytest.mark.parametrize("error", [
    InvalidRequest("HTTP 400"), OutcomeUnknown("timed out"), Unavailable("HTTP 500", retryable=False),
])
def test_errors_that_a_retry_cannot_fix_are_raised_at_once(error: Exception) -> None:
    fake, calls = FakeTime(), []

    async def attempt() -> None:
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        asyncio.run(policy(fake).run(attempt))
    assert len(calls) == 1 and fake.sleeps == []


def test_the_policy_gives_up_when_the_next_wait_would_pass_the_total_cap() -> None:
    """A storm longer than the budget ends with the last Throttled, without sleeping past the cap."""
    fake, calls = FakeTime(), []

    async def attempt() -> None:
        calls.append(fake.t)
        raise Throttled("HTTP 429", retry_after=4.0)

    with pytest.raises(Throttled):
        asyncio.run(policy(fake, jitter=0.0, max_total=10.0, max_attempts=50).run(attempt))
    assert calls == [0.0, 4.0, 8.0]
    assert sum(fake.sleeps) <= 10.0


def test_the_policy_gives_up_after_max_attempts() -> None:
    fake, calls = FakeTime(), []

    async def attempt() -> None:
        calls.append(1)
        raise Unavailable("HTTP 503")

    with pytest.raises(Unavailable):
        asyncio.run(policy(fake, max_attempts=3).run(attempt))
    assert len(calls) == 3


@pytest.mark.parametrize(("method", "override", "expected"), [
    ("GET", None, True), ("delete", None, True), ("PATCH", None, True), ("POST", None, False), ("POST", True, True),
])
def test_only_posts_count_as_non_idempotent_unless_the_caller_knows_better(method: str, override: bool | None, expected: bool) -> None:
    assert is_idempotent(method, override) is expected
