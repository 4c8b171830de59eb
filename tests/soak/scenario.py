"""What happens over the soak's simulated days, planned from one seed: traffic bursts, Graph
throttling and outages, lifecycle events and the kills, each at a simulated offset from the start.
Notification faults (drops, duplicates, reordering) run throughout at low rates."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

STEADY_RATE = 2.0                 # booking operations per real second
BURST_RATE, BURST_SECONDS = 12.0, 4.0
NOTIFICATION_FAULTS = {"drop": 0.02, "duplicate": 0.05, "reorder": 0.05}
THROTTLE = {"status": 429, "share": 0.5, "count": 40, "retry_after": 1}     # Retry-After in real seconds
OUTAGE = {"status": 503, "share": 1.0, "count": 30}                        # every Graph call, for a while
LIFECYCLE = ("reauthorizationRequired", "missed", "subscriptionRemoved")


@dataclass(frozen=True, order=True)
class Event:
    at: timedelta                 # simulated time after the start
    kind: str                     # burst, throttle, outage, lifecycle, kill
    what: str = ""                # the lifecycle event or the process to kill


def plan(seed: int, days: float) -> list[Event]:
    """Every event of a run of `days`, in order; the last quarter day is left quiet to drain."""
    rng = random.Random(seed)
    span = timedelta(days=days) - timedelta(hours=6)
    day = timedelta(days=1)

    def some_time(low: float = 0.05, high: float = 1.0) -> timedelta:
        return span * rng.uniform(low, high)

    events = [Event(some_time(), "burst") for _ in range(int(days * 2))]
    events += [Event(some_time(), "throttle") for _ in range(int(days * 2))]
    events += [Event(some_time(), "outage") for _ in range(max(1, int(days)))]
    events += [Event(min(span, day * (0.3 + i * 0.4)), "lifecycle", name) for i, name in enumerate(LIFECYCLE)]
    events += [Event(span * 0.35, "kill", "web"), Event(span * 0.6, "kill", "worker-1")]
    return sorted(events)
