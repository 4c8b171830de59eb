"""The web process's Prometheus metrics: one counter per branch of the receiver.

Each app gets its own registry, so tests and several apps in one process never share counts.
Labels are reasons and statuses, never ids or anything a notification carried.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REJECT_REASONS = ("malformed", "unsupported_media_type", "too_large", "forged_client_state", "unknown_subscription")


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
        self.inbox_depth = Gauge("bl_inbox_depth", "Inbox rows waiting to be processed.", registry=self.registry)
        self.inbox_oldest_age = Gauge(
            "bl_inbox_oldest_age_seconds", "Age of the oldest waiting inbox row.", registry=self.registry
        )
