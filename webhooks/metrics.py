"""The web process's Prometheus metrics: one counter per branch of the receiver, and gauges
read from the database at each scrape (inbox depth and age, processing latency, subscription
expiry margin, completeness watermark lag), since workers and the scheduler write those facts there.

Each app gets its own registry, so tests and several apps in one process never share counts.
Labels are reasons, statuses, quantiles and booking-business ids (shared mailboxes' addresses,
not people), never anything a notification carried.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import Engine

from state import inbox
from state.subscriptions import expiry_by_business
from state.watermarks import watermark_lags
from database.times import parse_time

REJECT_REASONS = ("malformed", "unsupported_media_type", "too_large", "validation_token_too_long",
                  "malformed_subscription_id", "wrong_tenant", "unknown_subscription", "forged_client_state",
                  "wrong_resource", "inbox_busy")
ENDPOINTS = ("change", "lifecycle")
LATENCY_WINDOW = timedelta(minutes=5)   # "recent" processing: what an alert on latency should see
LATENCY_ROWS = 2000                     # the scrape reads at most this many rows, however busy the inbox
QUANTILES = (0.5, 0.95)


@dataclass
class WebhookMetrics:
    """Counters and gauges the receiver and /metrics share."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.received = Counter(
            "bl_notifications_received", "Notification items received, by endpoint.", ["endpoint"], registry=self.registry
        )
        self.accepted = Counter(
            "bl_notifications_accepted", "Notification items written to the inbox, by endpoint.", ["endpoint"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "bl_notifications_duplicate", "Notification items already in the inbox.", registry=self.registry
        )
        self.rejected = Counter(
            "bl_notifications_rejected", "Requests or items not stored, by reason.", ["reason"], registry=self.registry
        )
        for reason in REJECT_REASONS:
            self.rejected.labels(reason)
        self.ack_seconds = Histogram(
            "bl_webhook_ack_seconds", "Time to answer Graph's POST.", ["endpoint"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.9),
        )
        self.commit_items = Histogram(
            "bl_inbox_commit_items", "Notification items per inbox commit of the receiver's writer.",
            registry=self.registry, buckets=(1, 2, 5, 10, 20, 50, 100, 500, 5000),
        )
        self.inbox_depth = Gauge("bl_inbox_depth", "Inbox rows waiting to be processed.", registry=self.registry)
        self.inbox_oldest_age = Gauge(
            "bl_inbox_oldest_age_seconds", "Age of the oldest waiting inbox row.", registry=self.registry
        )
        self.processing_latency = Gauge(
            "bl_inbox_processing_latency_seconds",
            "Arrival to done of the inbox rows processed in the last 5 minutes (latest 2000), by quantile.",
            ["quantile"], registry=self.registry,
        )
        self.processed_recently = Gauge(
            "bl_inbox_processed_recent", "Inbox rows the latency quantiles are computed from.", registry=self.registry
        )
        self.expiry_margin = Gauge(
            "bl_subscription_expiry_margin_seconds", "Time until the active subscription of a business expires.",
            ["business"], registry=self.registry,
        )

        self.watermark_lag = Gauge(
            "bl_sync_watermark_lag_seconds", "How far behind now each business's completeness watermark is.",
            ["business"], registry=self.registry,
        )

    def refresh(self, engine: Engine, now: datetime) -> None:
        """Set the gauges that come from the database, as of `now`."""
        count, oldest = inbox.depth(engine)
        self.inbox_depth.set(count)
        self.inbox_oldest_age.set(max(0.0, (now - parse_time(oldest)).total_seconds()) if oldest else 0.0)
        latencies = inbox.recent_latencies(engine, now, LATENCY_WINDOW, LATENCY_ROWS)
        self.processed_recently.set(len(latencies))
        for q in QUANTILES:
            self.processing_latency.labels(str(q)).set(_quantile(latencies, q))
        self.expiry_margin.clear()   # a business no longer subscribed must not keep its last value
        for business_id, expires in expiry_by_business(engine).items():
            self.expiry_margin.labels(business_id).set((parse_time(expires) - now).total_seconds())
        for business_id, lag in watermark_lags(engine, now).items():
            self.watermark_lag.labels(business_id).set(lag)


def _quantile(values: list[float], q: float) -> float:
    """The q-quantile (0 when there is nothing to measure)."""
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]
