"""Background delivery of change and lifecycle notifications, with Graph's retry and throttling.

graph-facts §2.6: an endpoint must answer 2xx within 3 s or the POST is retried (backoff, for up
to 4 h, then dropped). Responses slower than 2.9 s count as slow; once 100 have been counted, an
endpoint with >=10 % slow is throttled (notifications delayed 10 min) and one with >=15 % slow
loses its notifications. Counters reset every 10 min. All figures are Options, so tests shrink them.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from .faults import Faults
from .options import Options


@dataclass(order=True)
class Job:
    """One POST to make: its items, and how often it was tried."""

    due: float
    seq: int
    url: str = field(compare=False)
    kind: str = field(compare=False)  # "change" or "lifecycle"
    items: list[dict] = field(compare=False)
    attempt: int = field(default=0, compare=False)
    first_due: float = field(default=0.0, compare=False)
    held: bool = field(default=False, compare=False)  # held back by the reorder fault: never merged early


@dataclass
class EndpointStats:
    """Response-time accounting of one notification URL."""

    sent: int = 0
    slow: int = 0
    since: float = field(default_factory=time.monotonic)

    def state(self, options: Options) -> str:
        """normal, throttled or dropping (§2.6)."""
        if self.sent < options.slow_min_samples:
            return "normal"
        share = self.slow / self.sent
        return "dropping" if share >= options.slow_drop_ratio else "throttled" if share >= options.slow_throttle_ratio else "normal"


class Dispatcher:
    """A thread that posts due jobs through a small pool; retries, throttles and drops as Graph does."""

    def __init__(self, options: Options, faults: Faults) -> None:
        self.options = options
        self.faults = faults
        self.on_drop: Callable[[list[dict]], None] = lambda items: None
        self.ticks: list[Callable[[], None]] = []
        self.log: deque[dict] = deque(maxlen=2000)
        self.stats: dict[str, EndpointStats] = {}
        self._heap: list[Job] = []
        self._sending = 0   # POSTs taken off the heap whose answer is not in yet
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="graph-notify")
        self._client = httpx.Client()
        self._thread = threading.Thread(target=self._run, name="graph-dispatcher", daemon=True)

    def start(self) -> None:
        """Start the dispatcher thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop dispatching; in-flight POSTs finish (bounded by the delivery timeout)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def clear(self) -> None:
        """Forget pending jobs, counters and the log (control API reset)."""
        with self._cond:
            self._heap.clear()
            self.stats.clear()
            self.log.clear()

    def report(self) -> dict:
        """Delivery log, pending jobs and per-endpoint counters, copied consistently. A job is
        pending until its POST has been answered (or has failed): one in flight is not delivered yet."""
        with self._cond:
            return {"pending": len(self._heap) + self._sending, "log": list(self.log),
                    "endpoints": {url: {"sent": s.sent, "slow": s.slow, "state": s.state(self.options)}
                                  for url, s in self.stats.items()}}

    def submit(self, url: str, items: list[dict], kind: str) -> None:
        """Queue notifications for ``url``; change notifications go through the fault dice first."""
        delay, held = self.options.batch_window_s, False
        if kind == "change":
            if self.faults.roll("drop"):
                self._record(url, kind, items, 0, "dropped", "fault: dropped")
                self.on_drop(items)
                return
            if self.faults.roll("reorder"):
                delay, held = delay + self.options.reorder_delay_s, True  # a later notification overtakes this one
            if self.faults.roll("duplicate"):
                self._push(url, kind, items, delay, held=held)
        self._push(url, kind, items, delay, held=held)

    # Internals -----------------------------------------------------------------------------------
    def _push(self, url: str, kind: str, items: list[dict], delay: float, attempt: int = 0, first_due: float | None = None,
              held: bool = False) -> None:
        due = time.monotonic() + delay + self._throttle_delay(url)
        job = Job(due, next(self._seq), url, kind, list(items), attempt, first_due if first_due is not None else due, held)
        with self._cond:
            heapq.heappush(self._heap, job)
            self._cond.notify()

    def _throttle_delay(self, url: str) -> float:
        stats = self.stats.get(url)
        return self.options.throttle_delay_s if stats and stats.state(self.options) == "throttled" else 0.0

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                wait = min(0.25, self._heap[0].due - time.monotonic()) if self._heap else 0.25
                if wait > 0:
                    self._cond.wait(wait)
                due = self._pop_due()
                self._sending += len(due)
            for job in due:
                self._pool.submit(self._send, job)
            for tick in self.ticks:
                tick()

    def _pop_due(self) -> list[Job]:
        """Due jobs; a due first attempt takes along every queued first attempt to the same URL, so
        changes within the batch window share one POST (Graph batches them, §2.5)."""
        now = time.monotonic()
        due = []
        while self._heap and self._heap[0].due <= now:
            due.append(heapq.heappop(self._heap))
        merged: dict[tuple[str, str], Job] = {}
        out, keep = [], []
        for job in due + sorted(self._heap):
            key, mergeable = (job.url, job.kind), job.attempt == 0 and not job.held
            if mergeable and key in merged:
                merged[key].items.extend(job.items)
            elif job.due <= now:
                out.append(job)
                if mergeable:
                    merged[key] = job
            else:
                keep.append(job)
        if len(keep) != len(self._heap):
            heapq.heapify(keep)
            self._heap[:] = keep
        return out

    def _send(self, job: Job) -> None:
        try:
            self._deliver(job)
        finally:
            with self._cond:
                self._sending -= 1

    def _deliver(self, job: Job) -> None:
        stats = self._flushed_stats(job.url)
        if stats.state(self.options) == "dropping":
            self._record(job.url, job.kind, job.items, job.attempt, "dropped", "endpoint too slow")
            if job.kind == "change":
                self.on_drop(job.items)
            return
        started = time.monotonic()
        try:
            response = self._client.post(job.url, content=json.dumps({"value": job.items}),
                                         headers={"Content-Type": "application/json; charset=utf-8"},
                                         timeout=self.options.delivery_timeout_s)
            status, detail = response.status_code, None
        except httpx.HTTPError as error:
            status, detail = None, type(error).__name__
        elapsed = time.monotonic() - started
        stats.sent += 1
        stats.slow += elapsed >= self.options.slow_threshold_s
        if status is not None and 200 <= status < 300:
            self._record(job.url, job.kind, job.items, job.attempt, "delivered", status, elapsed)
        else:
            self._retry(job, status if status is not None else detail, elapsed)

    def _retry(self, job: Job, result: object, elapsed: float) -> None:
        if time.monotonic() - job.first_due >= self.options.retry_horizon_s:
            self._record(job.url, job.kind, job.items, job.attempt, "dropped", result, elapsed)
            if job.kind == "change":
                self.on_drop(job.items)
            return
        self._record(job.url, job.kind, job.items, job.attempt, "retrying", result, elapsed)
        backoff = min(self.options.retry_max_s, self.options.retry_initial_s * 2 ** job.attempt)
        self._push(job.url, job.kind, job.items, backoff, job.attempt + 1, job.first_due)

    def _flushed_stats(self, url: str) -> EndpointStats:
        with self._cond:
            stats = self.stats.setdefault(url, EndpointStats())
        if time.monotonic() - stats.since >= self.options.counter_flush_s:
            stats.sent, stats.slow, stats.since = 0, 0, time.monotonic()
        return stats

    def _record(self, url: str, kind: str, items: list[dict], attempt: int, outcome: str, result: object, elapsed: float = 0.0) -> None:
        entry = {"url": url, "kind": kind, "items": len(items), "attempt": attempt, "outcome": outcome,
                 "result": result, "elapsedSeconds": round(elapsed, 4), "at": time.time()}
        with self._cond:
            self.log.append(entry)
