"""The data-subject requests' gauges on /metrics, read from the `requests` projection at each scrape:

    bl_requests_open{state}     open requests by state (every open state, 0 included)
    bl_requests_due_soon        open requests due within REQUEST_ALERT_DAYS (not yet overdue)
    bl_requests_overdue         open requests past their deadline in force

A collector rather than gauges set by a refresh: the figures are the database's, so the scrape
computes them when Prometheus asks and nothing stale stays between scrapes. The app factory
registers it on the app's metrics registry when the process serves the dashboard (which may read
the ledger's projections; the webhooks may not). Labels are state codes, never a request id.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dashboard.request_deadlines import deadline_summary
from ledger.requests import OPEN_STATES


class RequestGauges(Collector):
    """Computes the request gauges from the database at each collection."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime], alert_days: int) -> None:
        self.engine, self.clock, self.alert_days = engine, clock, alert_days

    def describe(self) -> Iterator[Metric]:
        # What registering asks for: the names alone, so creating the app reads no table (it may not be migrated yet).
        return iter(_families())

    def collect(self) -> Iterator[Metric]:
        with Session(self.engine) as session:
            summary = deadline_summary(session, self.clock(), self.alert_days)
        open_by_state, due_soon, overdue = _families()
        for state in OPEN_STATES:
            open_by_state.add_metric([state], summary.by_state[state])
        due_soon.add_metric([], len(summary.due_soon))
        overdue.add_metric([], len(summary.overdue))
        return iter((open_by_state, due_soon, overdue))


def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    return (GaugeMetricFamily("bl_requests_open", "Open data-subject requests, by state.", labels=["state"]),
            GaugeMetricFamily("bl_requests_due_soon", "Open data-subject requests due within REQUEST_ALERT_DAYS days.",
                              labels=[]),
            GaugeMetricFamily("bl_requests_overdue", "Open data-subject requests past their deadline.", labels=[]))
