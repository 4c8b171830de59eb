"""The completeness watermark's lag on a warped clock, for bench/freshness.py (a part of that bench,
not one of its own, so it lives here).

Graph's clock (the emulator's, which the service's ledger also reads) is moved forward in STEP
increments through the control API; a job runs at the start and whenever its interval has passed
on that clock, and after each step every business's lag (now minus its watermark) is sampled.
Graph requests are the emulator's counts over the simulated hours, every run included.
Nothing changes in Graph meanwhile: these are idle hours, the case the request budget is for.
"""
from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine

from state.watermarks import watermark_lags

STEP = timedelta(seconds=30)   # the lag's resolution: far below the 4-minute delta interval


@dataclass(frozen=True)
class LagFigures:
    """Lag quantiles (seconds) and Graph requests per business per simulated hour."""

    p50: float
    p95: float
    requests_per_business_hour: float


def simulate(control: httpx.Client, engine: Engine, clock: Callable[[], datetime], businesses: list[str], *,
             hours: float, every: timedelta, run: Callable[[], object]) -> LagFigures:
    """Run `run` at once and then every `every` over `hours` of warped time; the figures."""
    control.delete("/requests").raise_for_status()
    last: datetime | None = None
    samples: list[float] = []
    for _ in range(int(hours * 3600 / STEP.total_seconds())):
        if last is None or clock() - last >= every:
            run()
            last = clock()
        control.post("/clock", json={"advanceSeconds": STEP.total_seconds()}).raise_for_status()
        lags = watermark_lags(engine, clock())
        samples += [lags[business] for business in businesses]
    requests = sum(n for key, n in control.get("/requests").json().items() if " /v1.0/" in key)
    return LagFigures(statistics.median(samples), statistics.quantiles(samples, n=20)[18],
                      requests / len(businesses) / hours)
