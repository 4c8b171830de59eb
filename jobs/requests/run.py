"""What every part of a request's run is given: the collaborators, the request, its steps."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from config.retention import RetentionPolicy
from connector import GraphConnector
from jobs.requests.steps import RunSteps
from ledger.transactions import Ledger


@dataclass(frozen=True)
class Run:
    """One request being carried out."""

    ledger: Ledger
    graph: GraphConnector
    policy: RetentionPolicy
    clock: Callable[[], datetime]
    request_id: str
    request_type: str
    requester: str                 # the requester's contact subject (ledger/requests.py)
    steps: RunSteps
    choices: Mapping[str, str] = field(default_factory=dict)   # future appointment id -> cancel | keep
