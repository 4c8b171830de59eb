"""A run's persisted steps, one ledger transaction each: `sending` committed before a write
leaves, `done` (with its evidence) after, so a resumed run does nothing twice.

    steps = RunSteps(ledger, request_id, clock)
    steps.get("cancel:<appointment>")  -> ("sending", {...}) | None
    steps.sending(name, evidence); steps.done(name, evidence)
    steps.done(name, evidence, tx=tx)      # inside the transaction of the ledger decision it records
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ledger.transactions import Ledger, LedgerTransaction
from state import request_runs


class RunSteps:
    """The steps of one request's run."""

    def __init__(self, ledger: Ledger, request_id: str, clock: Callable[[], datetime]) -> None:
        self.ledger, self.request_id, self.clock = ledger, request_id, clock
        with ledger.transaction() as tx:
            self._known = request_runs.steps(tx.session, request_id)

    def get(self, name: str) -> tuple[str, dict[str, Any]] | None:
        """The step's (state, evidence), if it was written."""
        return self._known.get(name)

    def is_done(self, name: str) -> bool:
        step = self._known.get(name)
        return step is not None and step[0] == "done"

    def evidence(self, name: str) -> dict[str, Any]:
        step = self._known.get(name)
        return dict(step[1]) if step else {}

    def sending(self, name: str, evidence: Mapping[str, Any] | None = None) -> None:
        """Commit `sending` before the write it names leaves."""
        self._write(name, "sending", evidence, None)

    def done(self, name: str, evidence: Mapping[str, Any] | None = None, *, tx: LedgerTransaction | None = None) -> None:
        """The step is done (in `tx` when given: with the decision it records, atomically)."""
        self._write(name, "done", evidence, tx)

    def failed(self, name: str, evidence: Mapping[str, Any] | None = None) -> None:
        self._write(name, "failed", evidence, None)

    def _write(self, name: str, state: str, evidence: Mapping[str, Any] | None, tx: LedgerTransaction | None) -> None:
        if tx is None:
            with self.ledger.transaction() as own:
                request_runs.record_step(own.session, self.request_id, name, state, self.clock(), evidence)
        else:
            request_runs.record_step(tx.session, self.request_id, name, state, self.clock(), evidence)
        self._known[name] = (state, dict(evidence or {}))
