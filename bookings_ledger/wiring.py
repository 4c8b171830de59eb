"""The wiring of a process, written once: engine, keys, key store, ledger, ingestor, connector, services.

Only the processes that handle personal data (worker, scheduler, commands) open the key store,
here; the web process never does (bookings_ledger/app.py).

Every entry point (`demo`, `worker`, `scheduler`, `subscribe`, `sync`, `subject`) opens what it needs here;
tests build the same objects with their own clocks and an emulator's connector:

    with opened_process(settings) as process:            # engine, ledger, ingestor, connector
        services = sync_services(settings, process)      # subscriptions, reconciliation, lifecycle
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from jobs.anonymise import Anonymiser
from jobs.requests.runner import RequestRunner
from jobs.delta import DeltaFollower
from jobs.erasure import erase_working_state
from jobs.holds_scope import subject_scope
from jobs.ingest import Ingestor
from jobs.lifecycle import LifecycleServices
from jobs.notices import NoticeSender
from jobs.privacy_mailbox import PrivacyMailbox
from jobs.reconcile import BookingsReader, Horizon, Progress, Reconciler
from jobs.request_mail import RequestMailer
from jobs.retention import BusinessZones, RetentionEvaluator
from jobs.scheduler import JobSchedule
from jobs.subscriptions import GraphSubscriptions, SubscriptionManager, SubscriptionPolicy
from jobs.worker import Worker
from ledger.requests import RequestRules
from ledger.transactions import Clock, Ledger, utc_now
from state.client_states import ClientStateKeys
from state.working_state_retention import WorkingStateRetention

if TYPE_CHECKING:
    from connector import GraphConnector
    from connector.http import CallObserver


@dataclass(frozen=True)
class Process:
    """What a Graph-facing process works with: one ledger, its ingestor, one connector."""

    ledger: Ledger
    ingestor: Ingestor
    graph: GraphConnector


@dataclass(frozen=True)
class RetentionServices:
    """The businesses' time zones, the retention evaluation and the anonymiser, over one ledger and connector."""

    zones: BusinessZones
    evaluator: RetentionEvaluator
    anonymiser: Anonymiser


@dataclass(frozen=True)
class MailServices:
    """The mail sent from PRIVACY_MAILBOX: what requests are due, and material-change notices."""

    requests: RequestMailer
    notices: NoticeSender


@dataclass(frozen=True)
class SyncServices:
    """Subscriptions, reconciliation, mailbox delta rounds and lifecycle handling over one ledger
    and one connector."""

    ledger: Ledger
    businesses: list[str]
    subscriptions: SubscriptionManager
    reconciler: Reconciler
    delta: DeltaFollower
    retention: RetentionServices
    requests: RequestRunner
    mail: MailServices | None = None
    mailbox: PrivacyMailbox | None = None   # the privacy mailbox's intake, when PRIVACY_MAILBOX is set

    @property
    def lifecycle(self) -> LifecycleServices:
        """What `jobs.lifecycle.handle` needs."""
        return LifecycleServices(self.ledger, self.subscriptions, self.reconciler, self.mailbox)


def policy_from_settings(settings: Any) -> SubscriptionPolicy:
    """The subscription lifetime and renewal margin the settings ask for."""
    return SubscriptionPolicy(lifetime=timedelta(minutes=settings.SUBSCRIPTION_LIFETIME_MINUTES),
                              margin=timedelta(hours=settings.SUBSCRIPTION_RENEWAL_MARGIN_HOURS))


def horizon_from_settings(settings: Any) -> Horizon:
    """The reconciliation horizon the settings ask for."""
    return Horizon(back=timedelta(days=settings.RECONCILE_DAYS_BACK), ahead=timedelta(days=settings.RECONCILE_DAYS_AHEAD))


def schedule_from_settings(settings: Any) -> JobSchedule:
    """The scheduler's intervals and the working state's retention the settings ask for."""
    retention = WorkingStateRetention(done_inbox_rows=timedelta(days=settings.INBOX_DONE_RETENTION_DAYS),
                                      job_runs=timedelta(days=settings.JOB_RUN_RETENTION_DAYS),
                                      filled_gaps=timedelta(days=settings.FILLED_GAP_RETENTION_DAYS))
    return JobSchedule(reconcile=timedelta(minutes=settings.RECONCILE_INTERVAL_MINUTES),
                       delta=timedelta(minutes=settings.DELTA_INTERVAL_MINUTES), retention=retention,
                       evaluate_retention=timedelta(minutes=settings.RETENTION_INTERVAL_MINUTES),
                       anonymise=timedelta(minutes=settings.ANONYMISE_INTERVAL_MINUTES),
                       requests=timedelta(minutes=settings.REQUEST_INTERVAL_MINUTES),
                       request_contacts=timedelta(days=settings.REQUEST_CONTACT_DAYS))


def build_ingestor(settings: Any, ledger: Ledger, *, on_child_flagged: Callable[[], None] | None = None) -> Ingestor:
    """The ingestor under the retention policy the settings name (`on_child_flagged`: JobMetrics.child_flagged)."""
    from config.retention import load_policy

    return Ingestor(ledger, load_policy(settings.RETENTION_POLICY_FILE), clock=ledger.clock,
                    on_child_flagged=on_child_flagged)


def sync_services(settings: Any, ledger: Ledger, graph: Any, ingestor: Ingestor, *,
                  progress: Progress | None = None) -> SyncServices:
    """The services for BOOKING_BUSINESSES; `graph` is a GraphConnector (or anything shaped like one)."""
    businesses = settings.booking_businesses
    subscriptions_api: GraphSubscriptions = graph.subscriptions
    bookings: BookingsReader = graph.bookings
    manager = SubscriptionManager(ledger, subscriptions_api, businesses=businesses,
                                  public_base_url=settings.PUBLIC_BASE_URL, policy=policy_from_settings(settings),
                                  client_state_keys=ClientStateKeys.from_settings(settings),
                                  privacy_mailbox=settings.PRIVACY_MAILBOX)
    reconciler = Reconciler(ledger, bookings, ingestor, horizon=horizon_from_settings(settings), progress=progress)
    return SyncServices(ledger, businesses, manager, reconciler, DeltaFollower(ledger, graph, ingestor, reconciler),
                        retention_services(ledger, graph, ingestor),
                        RequestRunner(ledger, graph, ingestor.policy, settings, ledger.clock),
                        mail_services(settings, ledger, graph), privacy_mailbox(settings, ledger, graph))


def privacy_mailbox(settings: Any, ledger: Ledger, graph: Any) -> PrivacyMailbox | None:
    """The privacy mailbox's intake; None when PRIVACY_MAILBOX is unset (then nothing of it runs)."""
    if not settings.PRIVACY_MAILBOX:
        return None
    return PrivacyMailbox(ledger, graph.mail, mailbox=settings.PRIVACY_MAILBOX, rules=RequestRules.from_settings(settings))


def mail_services(settings: Any, ledger: Ledger, graph: Any) -> MailServices | None:
    """The request mailer and the notice sender over PRIVACY_MAILBOX, their templates checked now
    (a broken template stops the start: config/mail_templates.py); None without a privacy mailbox."""
    if not settings.PRIVACY_MAILBOX:
        return None
    from config.mail_templates import load_templates

    templates = load_templates(settings.MAIL_TEMPLATES_DIR)
    return MailServices(RequestMailer(ledger, graph, settings, templates=templates),
                        NoticeSender(ledger, graph, settings, templates=templates))


def retention_services(ledger: Ledger, graph: Any, ingestor: Ingestor) -> RetentionServices:
    """Time zones, retention evaluation and anonymisation under the ingestor's policy; `graph` is a GraphConnector."""
    zones = BusinessZones(ledger.engine, graph.mailbox, ledger.clock)
    return RetentionServices(zones, RetentionEvaluator(ledger, ingestor.policy, ledger.clock, zones),
                             Anonymiser(ledger, graph, ingestor.policy, ledger.clock))


@contextmanager
def opened_ledger(settings: Any, *, clock: Clock = utc_now) -> Iterator[Ledger]:
    """The ledger on DATABASE_URL (must be migrated) with its key store on KEYSTORE_URL, closed after.
    Erasures a crash interrupted are finished first (ledger/erasure.py)."""
    from database.engine import open_migrated
    from ledger.keystore import keystore_from_settings
    from ledger.transactions import LedgerKeys

    keys = LedgerKeys.from_settings(settings)
    engine = open_migrated(settings.DATABASE_URL)
    keystore = None
    try:
        keystore = keystore_from_settings(settings, keys.master, clock)
        ledger = Ledger(engine, keys, clock, keystore=keystore, working_state_eraser=erase_working_state,
                        hold_scope=subject_scope)
        ledger.finish_erasures()
        yield ledger
    finally:
        if keystore is not None:
            keystore.close()
        engine.dispose()


@contextmanager
def opened_process(settings: Any, *, clock: Clock = utc_now, observe: CallObserver | None = None,
                   on_child_flagged: Callable[[], None] | None = None) -> Iterator[Process]:
    """`opened_ledger` and a connector from the settings, closed after;
    `observe` is told of every Graph call (jobs.metrics.JobMetrics.graph_call), `on_child_flagged`
    of every subject ingestion flags as a child (JobMetrics.child_flagged)."""
    from connector import connector_from_settings

    with opened_ledger(settings, clock=clock) as ledger, connector_from_settings(settings, observe=observe) as graph:
        yield Process(ledger, build_ingestor(settings, ledger, on_child_flagged=on_child_flagged), graph)


@contextmanager
def opened_services(settings: Any, *, progress: Progress | None = None, observe: CallObserver | None = None,
                    on_child_flagged: Callable[[], None] | None = None) -> Iterator[SyncServices]:
    """`opened_process` with the sync services built over it."""
    with opened_process(settings, observe=observe, on_child_flagged=on_child_flagged) as process:
        yield sync_services(settings, process.ledger, process.graph, process.ingestor, progress=progress)



def build_worker(process: Process, services: SyncServices, **options: Any) -> Worker:
    """The inbox worker of this process, handing lifecycle rows to `services`."""
    from jobs import lifecycle

    return Worker(process.ledger, process.ingestor, process.graph, clock=process.ledger.clock,
                  lifecycle=partial(lifecycle.handle, services=services.lifecycle),
                  horizon=services.reconciler.horizon, mailbox=services.mailbox, **options)
