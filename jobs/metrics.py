"""Prometheus metrics of the worker and scheduler processes: the only processes that talk to Graph.

    metrics = JobMetrics()
    graph = connector_from_settings(settings, observe=metrics.graph_call)
    metrics.serve(port)            # prometheus_client's own HTTP server, on a daemon thread

Labels are methods, route templates (every id masked as `{id}` by the connector), statuses,
outcomes and job names: never an appointment, customer or mailbox id.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, start_http_server


@dataclass
class JobMetrics:
    """Counters one worker or scheduler process exports on its --metrics-port."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.graph_calls = Counter(
            "bl_graph_calls", "Graph requests by method, route template and status (2xx, 429, …, none).",
            ["method", "route", "status"], registry=self.registry,
        )
        self.inbox_rows = Counter(
            "bl_inbox_rows_processed", "Inbox rows this process handled, by outcome (done, failed, parked, deferred).",
            ["outcome"], registry=self.registry,
        )
        self.ledger_writes = Counter(
            "bl_ingest_outcomes", "What ingestion did per appointment, by outcome (collected, updated, …).",
            ["outcome"], registry=self.registry,
        )
        self.child_flags = Counter(
            "bl_child_flags", "Subjects ingestion's [children] rule flagged as children (a batch retried after a rollback counts again).",
            registry=self.registry,
        )
        self.job_runs = Counter(
            "bl_job_runs", "Scheduled job runs by job and outcome (ok, failed, skipped).", ["job", "outcome"],
            registry=self.registry,
        )

    def graph_call(self, method: str, route: str, status: str) -> None:
        """The connector's CallObserver: count one Graph answer."""
        self.graph_calls.labels(method, route, status).inc()

    def child_flagged(self) -> None:
        """The Ingestor's `on_child_flagged`: count one subject newly flagged as a child."""
        self.child_flags.inc()

    def serve(self, port: int) -> None:
        """Expose the metrics on http://0.0.0.0:port/metrics from a daemon thread."""
        start_http_server(port, registry=self.registry)
