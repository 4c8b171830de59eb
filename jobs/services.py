"""Building the subscription, reconciliation and lifecycle services from settings, once per process.

`scheduler`, `subscribe`, `sync`, `worker` and `demo` each open a connector and a Ledger, build
an Ingestor (jobs/ingest.py), then call `sync_services(...)`; tests build the same objects with
their own clocks and an emulator's connector.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from jobs.lifecycle import LifecycleServices
from jobs.reconcile import BookingsReader, Horizon, Ingestor, Progress, Reconciler
from jobs.subscriptions import GraphSubscriptions, SubscriptionManager, SubscriptionPolicy
from ledger.api import Ledger

if TYPE_CHECKING:
    from connector.http import CallObserver


@dataclass(frozen=True)
class SyncServices:
    """Subscriptions, reconciliation and lifecycle handling over one ledger and one connector."""

    ledger: Ledger
    businesses: list[str]
    subscriptions: SubscriptionManager
    reconciler: Reconciler

    @property
    def lifecycle(self) -> LifecycleServices:
        """What `jobs.lifecycle.handle` needs."""
        return LifecycleServices(self.ledger, self.subscriptions, self.reconciler)


def policy_from_settings(settings: Any) -> SubscriptionPolicy:
    """The subscription lifetime and renewal margin the settings ask for."""
    return SubscriptionPolicy(lifetime=timedelta(minutes=settings.SUBSCRIPTION_LIFETIME_MINUTES),
                              margin=timedelta(hours=settings.SUBSCRIPTION_RENEWAL_MARGIN_HOURS))


def horizon_from_settings(settings: Any) -> Horizon:
    """The reconciliation horizon the settings ask for."""
    return Horizon(back=timedelta(days=settings.RECONCILE_DAYS_BACK), ahead=timedelta(days=settings.RECONCILE_DAYS_AHEAD))


def sync_services(settings: Any, ledger: Ledger, graph: Any, ingestor: Ingestor, *,
                  progress: Progress | None = None) -> SyncServices:
    """The services for BOOKING_BUSINESSES; `graph` is a GraphConnector (or anything shaped like one)."""
    businesses = settings.booking_businesses
    subscriptions_api: GraphSubscriptions = graph.subscriptions
    bookings: BookingsReader = graph.bookings
    manager = SubscriptionManager(ledger, subscriptions_api, businesses=businesses,
                                  public_base_url=settings.PUBLIC_BASE_URL, policy=policy_from_settings(settings))
    reconciler = Reconciler(ledger, bookings, ingestor, horizon=horizon_from_settings(settings), progress=progress)
    return SyncServices(ledger, businesses, manager, reconciler)


@contextmanager
def opened_services(settings: Any, *, progress: Progress | None = None,
                    observe: CallObserver | None = None) -> Iterator[SyncServices]:
    """The services on DATABASE_URL (must be migrated) and a connector from the settings, closed after;
    `observe` is told of every Graph call (jobs.metrics.JobMetrics.graph_call)."""
    from config.retention import load_policy
    from connector import connector_from_settings
    from jobs.ingest import Ingestor
    from ledger.api import LedgerKeys
    from ledger.db import open_migrated

    engine = open_migrated(settings.DATABASE_URL)
    try:
        ledger = Ledger(engine, LedgerKeys.from_settings(settings))
        ingestor = Ingestor(ledger, load_policy(settings.RETENTION_POLICY_FILE), clock=ledger.clock)
        with connector_from_settings(settings, observe=observe) as graph:
            yield sync_services(settings, ledger, graph, ingestor, progress=progress)
    finally:
        engine.dispose()
