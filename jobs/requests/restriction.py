"""Restriction, objection and opt-out: subject states every job honours (state/subject_restrictions.py).

    restrict(run, subjects) -> tuple[SubjectFacts, ...]

One transaction: the state set for each subject and its ledger entry appended (`restricted`,
`objected`, `opted-out`, refs the request), so a resumed run finds it done and appends nothing
twice. An objection is to every purpose processed on legitimate interests (Art. 21(1)); an
opt-out is of sale, sharing and marketing, for good (CCPA §1798.120, Art. 21(3)).
"""
from __future__ import annotations

from jobs.requests.facts import SubjectFacts, SurfaceFact
from jobs.requests.run import Run
from state import subject_restrictions

KIND = {"restriction": ("restriction", "restricted", None), "objection": ("objection", "objected", None),
        "opt-out": ("opt-out", "opted-out", "marketing")}
ACTION = {"restriction": "restricted", "objection": "objected", "opt-out": "opted-out"}


def restrict(run: Run, subjects: list[str]) -> tuple[SubjectFacts, ...]:
    """Put every subject under the request's restriction, with its entry."""
    kind, entry_kind, purpose = KIND[run.request_type]
    if not run.steps.is_done("restrict"):
        seqs = {}
        with run.ledger.transaction() as tx:
            for subject in subjects:
                subject_restrictions.restrict(tx.session, subject, kind=kind, purpose=purpose,
                                              request_id=run.request_id, now=run.clock())
                seqs[subject] = tx.append(entry_kind, subject=subject, refs={"request": run.request_id},
                                          restriction=kind, purpose=purpose).seq
            run.steps.done("restrict", {"seqs": seqs}, tx=tx)
    seqs = run.steps.evidence("restrict")["seqs"]
    return tuple(SubjectFacts(s, (SurfaceFact("ledger", ACTION[run.request_type], seqs=(seqs[s],)),)) for s in subjects)
