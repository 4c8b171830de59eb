"""The worker's and scheduler's own metrics: Graph calls by status, rows processed, job runs."""
from __future__ import annotations

import socket
from datetime import timedelta

import httpx
import pytest

from connector import GraphConnector, StaticCredential
from ingestion_pipeline import Pipeline
from jobs.metrics import JobMetrics
from jobs.scheduler import LeasedRunner
from jobs.worker import Worker


def sample(metrics: JobMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def counted(make_services, control, service, ingestor, emulator, retry_policy) -> Pipeline:
    """A pipeline whose worker and connector count into one JobMetrics."""
    business = control.seed(appointments=2, customers=3)[0]
    make_services([business]).subscriptions.ensure_all()
    metrics = JobMetrics()
    graph = GraphConnector(base_url=emulator.graph_url, credential=StaticCredential(), policy=retry_policy,
                           observe=metrics.graph_call)
    worker = Worker(service.ledger, ingestor, graph, clock=service.ledger.clock, metrics=metrics)
    yield Pipeline(worker, control, business, emulator.graph_url)
    graph.close()


def test_the_worker_counts_graph_calls_rows_and_ingestion_outcomes(counted):
    start = counted.worker.clock().replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=2)
    counted.book(start)
    counted.settle()
    metrics = counted.worker.metrics
    assert sample(metrics, "bl_inbox_rows_processed_total", outcome="done") >= 1
    assert sample(metrics, "bl_ingest_outcomes_total", outcome="collected") == 1
    assert sample(metrics, "bl_graph_calls_total", method="POST", route="/$batch", status="2xx") >= 1
    routes = {s.labels["route"] for m in metrics.registry.collect() for s in m.samples if "route" in s.labels}
    assert all("@" not in route and counted.business not in route for route in routes)


def test_scheduler_job_runs_are_counted_by_job_and_outcome(service):
    metrics = JobMetrics()
    runner = LeasedRunner(service.ledger.engine, service.ledger.clock, metrics=metrics)
    runner.run("ok-job", lambda: {})
    runner.run("bad-job", lambda: 1 / 0)
    assert sample(metrics, "bl_job_runs_total", job="ok-job", outcome="ok") == 1
    assert sample(metrics, "bl_job_runs_total", job="bad-job", outcome="failed") == 1


def test_metrics_are_served_on_their_own_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    metrics = JobMetrics()
    metrics.graph_call("GET", "/users/{id}/events", "429")
    metrics.serve(port)
    body = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert 'bl_graph_calls_total{method="GET",route="/users/{id}/events",status="429"} 1.0' in body
