"""The Bookings customer record: deleted when no live or held record of the person needs it.

A DELETE may answer 500 and still have deleted (privacy-facts §2.1): every 5xx, timeout or lost
answer leaves the step `sending`, and the next round's GET settles it (404: done; present: the
DELETE did not take and is sent again). A 404 to the DELETE itself means done.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector import ItemResult
from jobs.anonymise.batched import answers, gone, unknown
from jobs.anonymise.context import Run, Work
from jobs.anonymise.journal import Journal, Outcome, evidence_of


def customer_step(run: Run, journal: Journal, works: list[Work]) -> None:
    """Delete each customer record nothing needs any more; settle unknown deletes by reading back."""
    keep = [w for w in works if w.needed_by or run.policy.anonymisation.customer_record == "keep"]
    journal.finish(Outcome(w, "customer", "skipped", {"action": "kept", "why": w.needed_by or ["policy"]}) for w in keep)
    works = [w for w in works if w not in keep]
    settling = [w for w in works if w.state_of("customer") == "sending"]
    if settling:
        ids = [w.op.object_id for w in settling]
        read = answers(run.graph.bookings.customer_documents(run.business, ids), ids)
        settled = [w for w in settling if gone(read[w.op.object_id])]
        journal.finish(_done(w, {**w.steps["customer"].evidence, "settled": "read-back"}, read[w.op.object_id])  # type: ignore[arg-type]
                       for w in settled)
        works = [w for w in works if w not in settled and (w not in settling or read[w.op.object_id] is not None)]
    works = journal.sending(works, "customer", {w.op.id: {"action": "delete", "graph": w.steps["customer"].evidence.get("graph", [])
                                                  if "customer" in w.steps else []} for w in works})
    ids = [w.op.object_id for w in works]
    sent = answers(run.graph.bookings.delete_customers(run.business, ids), ids)
    finished = []
    for work in works:
        answer = sent[work.op.object_id]
        if unknown(answer):
            work.progressed = True    # a 500 may have deleted it: the next round reads it back
        elif answer.error is None or gone(answer):  # type: ignore[union-attr]
            finished.append(_done(work, work.steps["customer"].evidence, answer))
        else:
            finished.append(Outcome(work, "customer", "failed", {"action": "delete", "graph": [evidence_of(answer)]}))
    journal.finish(finished)


def _done(work: Work, evidence: Mapping[str, Any], answer: ItemResult[Any]) -> Outcome:
    full = {**evidence, "action": "delete", "graph": list(evidence.get("graph", [])) + [evidence_of(answer)]}
    work.gone = True
    return Outcome(work, "customer", "done", full, {"surface": "customer", "action": "delete",
                                                     "categories": list(work.op.categories), "graph": full["graph"]})
