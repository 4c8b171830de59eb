"""The runner: carries a verified request out, from `start` to its certificate, resumably.

    runner = RequestRunner(ledger, connector, policy, settings, clock)
    runner.run(request_id)   -> RunReport     # `bookings-ledger request run ID`, synchronously
    runner.run_queued()      -> [RunReport]   # the scheduler job `requests`: every queued run

A run, each stage persisted (state/request_runs.py) so a process killed anywhere resumes and does
nothing twice:

  start        the subjects the requester's blind indexes find (jobs/requests/locate.py) are fixed
               by `ledger.requests.start` (THE gate: NotVerified unless verified enough), the step
               recorded in the same transaction
  the work     by type: erasure and child-erasure (jobs/requests/erasure.py), rectification,
               restriction / objection / opt-out, access and portability (jobs/requests/export.py)
  complete     `ledger.requests.complete(outcome="done"|"partial")`, the facts kept with the step
  certificate  `ledger.certificates.issue_certificate` from the CertificateFacts

A run that cannot finish yet (Graph work still open) stays `running` for the next `run_queued`;
one that fails (a refusal by the gate, a Graph write refused) is marked `failed` with its code,
for the officer. Nothing personal in a report, a step or a log line: ids and counts.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from config.retention import RetentionPolicy
from connector import GraphConnector, GraphError
from jobs.requests import erasure, handover, locate, rectification, restriction
from jobs.requests.facts import CertificateFacts, KeptItem, SubjectFacts, from_dict
from jobs.requests.run import Run
from jobs.requests.steps import RunSteps
from ledger import requests
from ledger.transactions import Ledger
from state import request_runs

log = logging.getLogger(__name__)
ACTOR = "service:requests"
ERASURES = ("erasure", "child-erasure")
RESTRICTIONS = ("restriction", "objection", "opt-out")
EXPORTS = ("access", "portability")


@dataclass(frozen=True)
class RunReport:
    """How far one run got: ids and counts only."""

    request_id: str
    state: str                                   # done | running (continues next time) | failed
    outcome: str | None = None                   # done | partial, once completed
    subjects: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)    # surface -> objects acted on
    kept: int = 0
    certificate_id: str | None = None
    detail: str | None = None


class RequestRunner:
    """Runs data-subject requests (see the module docstring)."""

    def __init__(self, ledger: Ledger, connector: GraphConnector, policy: RetentionPolicy, settings: Any,
                 clock: Callable[[], datetime]) -> None:
        self.ledger, self.graph, self.policy, self.settings, self.clock = ledger, connector, policy, settings, clock

    def run_queued(self) -> list[RunReport]:
        """Every queued (or interrupted) run, oldest first."""
        with self.ledger.transaction() as tx:
            queued = request_runs.queued_runs(tx.session)
        return [self.run(run.request_id) for run in queued]

    def run(self, request_id: str) -> RunReport:
        """Carry the request out as far as it can go now (queued first when nobody queued it)."""
        self.ledger.finish_erasures()    # an erasure a crash interrupted ends first
        with self.ledger.transaction() as tx:
            queued = request_runs.run(tx.session, request_id) or request_runs.queue_run(
                tx.session, request_id, by=ACTOR, now=self.clock())
            request = tx.request(request_id)
            if request is None:
                raise requests.RequestError(f"no request {request_id} in the ledger")
            request_runs.set_state(tx.session, request_id, "running", self.clock())
            request_type, requester = request.request_type, request.requester_ref
        run = Run(self.ledger, self.graph, self.policy, self.clock, request_id, request_type, requester,
                  RunSteps(self.ledger, request_id, self.clock), queued.choices)
        try:
            report = self._carry_out(run)
        except erasure.StillRunning:
            return RunReport(request_id, "running", detail="graph-work-open")
        except GraphError as error:
            # Graph unavailable or throttled past the retries: the run stays `running`, its steps
            # say how far it got, and the next run settles any write whose answer was lost.
            log.warning("request %s paused: Graph answered %s", request_id, type(error).__name__)
            return RunReport(request_id, "running", detail=type(error).__name__)
        except (requests.RequestError, rectification.NothingToCorrect, rectification.NotWritten) as refused:
            self._finish(request_id, "failed", type(refused).__name__)
            log.warning("request %s did not run: %s", request_id, type(refused).__name__)
            return RunReport(request_id, "failed", detail=type(refused).__name__)
        self._finish(request_id, "done", None)
        return report

    def _carry_out(self, run: Run) -> RunReport:
        subjects = self._start(run)
        if not run.steps.is_done("complete"):
            facts = self._facts(run, subjects)
            with self.ledger.transaction() as tx:
                # What was kept and why, as codes and hold ids: the completion mail tells the subject.
                completed = requests.complete(tx, run.request_id, outcome=facts.outcome, subjects=len(subjects),
                                              kept=len(facts.kept), kept_reasons=sorted({k.reason for k in facts.kept}),
                                              holds=sorted({h for k in facts.kept for h in k.holds}))
                facts = replace(facts, completed_seq=completed.last_seq)
                run.steps.done("complete", {"facts": facts.as_dict()}, tx=tx)
        facts = from_dict(run.steps.evidence("complete")["facts"])
        if not run.steps.is_done("certificate"):
            certificate = handover.certify(self.ledger, self.settings, run.request_id, facts)
            run.steps.done("certificate", {"certificate": certificate})
        return RunReport(run.request_id, "done", facts.outcome, tuple(subjects), facts.counts, len(facts.kept),
                         run.steps.evidence("certificate").get("certificate"))

    def _start(self, run: Run) -> list[str]:
        """The gate, with the located subjects; the subjects of a request started already."""
        if run.steps.is_done("start"):
            return list(run.steps.evidence("start")["subjects"])
        with self.ledger.transaction() as tx:
            request = tx.request(run.request_id)
            if request is not None and request.state == "running":
                # Started outside a run (the step is written with `start`, so never by a lost run of ours).
                subjects, seq = requests.subjects_of(request), request.last_seq
            else:
                found = locate.subjects_for(tx.session, run.requester)
                started = requests.start(tx, run.request_id, subjects=found, by=ACTOR)
                subjects, seq = requests.subjects_of(started), started.last_seq
            run.steps.done("start", {"subjects": subjects, "seq": seq}, tx=tx)
        return subjects

    def _facts(self, run: Run, subjects: list[str]) -> CertificateFacts:
        kept: tuple[KeptItem, ...] = ()
        exported: dict[str, Any] = {}
        if run.request_type in ERASURES:
            erased = erasure.erase(run, subjects)
            found, kept = erased.subjects, erased.kept
        elif run.request_type == "rectification":
            found = rectification.rectify(run, subjects)
        elif run.request_type in RESTRICTIONS:
            found = restriction.restrict(run, subjects)
        else:
            if not run.steps.is_done("export"):
                run.steps.done("export", handover.export(run, subjects, self.settings))
            exported, found = run.steps.evidence("export"), ()
        return CertificateFacts(run.request_id, run.request_type, "partial" if kept else "done", found, kept,
                                started_seq=run.steps.evidence("start")["seq"], export_id=exported.get("export"),
                                exported_seq=exported.get("seq"), counts=_counts(found))

    def _finish(self, request_id: str, state: str, detail: str | None) -> None:
        with self.ledger.transaction() as tx:
            request_runs.set_state(tx.session, request_id, state, self.clock(), detail=detail)


def _counts(subjects: tuple[SubjectFacts, ...]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for subject in subjects:
        for surface in subject.surfaces:
            if surface.action not in ("none", "kept"):
                counts[surface.surface] = counts.get(surface.surface, 0) + 1
    return counts
