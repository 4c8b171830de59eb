"""The last step: destroy the expired categories' keys, or erase the subject when nothing of it is left.

A category's key is shared by every record of the person (ledger/keystore.py keys per subject and
category), so it is destroyed only when no other record of the person still holds data of that
category (a due date on another object) and no other open operation of the person still needs
the values for its own read-back; the last operation destroys it. When that leaves the person
with no key at all, or the cause is a child's data (everything goes), the subject is erased with
tombstones instead (`Ledger.erase_subject`). Each erasure is crash-safe on its own
(ledger/erasure.py; `finish_erasures` runs at the start of every run); a `sending` keys step is
simply run again: it destroys only the keys that still exist.
"""
from __future__ import annotations

from jobs.anonymise.context import Run, Work
from jobs.anonymise.journal import Journal, Outcome
from ledger.erasure import ErasureRaced
from ledger.holds import Held
from ledger.transactions import SUBJECT_SECRET_CATEGORY
from state import anonymisation, retention_dues


def keys_step(run: Run, journal: Journal, works: list[Work]) -> None:
    """Destroy keys or erase, one operation at a time (each erasure is transactions of its own);
    the steps are recorded for the whole batch, before and after."""
    works = journal.sending(works, "keys", {})
    finished, held_ops = [], []
    settled: set[str] = set()   # operations of this batch already through: no longer "another open one"
    for work in works:
        try:
            evidence = _destroy(run, work, settled)
        except Held as held:
            finished.append(Outcome(work, "keys", "pending", {"held": list(held.hold_ids)}))
            held_ops.append((work, held.hold_ids))
            continue
        settled.add(work.op.id)
        finished.append(Outcome(work, "keys", "done", evidence, then=lambda tx, w=work: anonymisation.set_state(
            tx.session, w.op.id, "done", tx.clock())))
    journal.finish(finished)
    for work, hold_ids in held_ops:
        journal.set_state([work], "held", detail="hold " + ",".join(hold_ids)[:180])


def _destroy(run: Run, work: Work, settled: set[str]) -> dict[str, object]:
    op = work.op
    with run.ledger.transaction() as tx:
        known = tx.subject(op.subject_ref)
        if known is not None and known.status == "erased":
            return {"destroyed": [], "erased": True, "settled": "already-erased"}
        others = [o for o in anonymisation.operations_for_subject(tx.session, op.subject_ref)
                  if o.id != op.id and o.id not in settled and o.state in anonymisation.OPEN_STATES]
        # An expired row kept on a rewritten appointment (readback.py) needs no key any more.
        elsewhere = {d.category for d in retention_dues.subject_dues(tx.session, op.subject_ref)
                     if (d.object_type, d.object_id) != (op.object_type, op.object_id) and d.expired_at is None}
    needed = elsewhere | {c for o in others for c in o.categories}
    existing = set(run.ledger.keystore.existing_keys(op.subject_ref)) - {SUBJECT_SECRET_CATEGORY}
    leaving = (set(op.categories) - needed) & existing
    everything = not others and not elsewhere and (op.cause == "child" or not existing - set(op.categories))
    if everything:
        try:
            receipt = run.ledger.erase_subject(op.subject_ref, reason=f"anonymisation-{op.cause}", refs={op.object_type: op.object_id})
        except ErasureRaced:
            # Another job's `finish_erasures` completed this very intent (its entries are in the chain):
            # the subject is erased, which is all this step needed (the soak found the race).
            return {"destroyed": sorted(existing), "erased": True, "settled": "finished-by-another-run"}
        return {"destroyed": sorted(existing), "erased": True, "final_everywhere_at": receipt.final_everywhere_at}
    for category in sorted(leaving):
        run.ledger.destroy_category(op.subject_ref, category, reason=f"anonymisation-{op.cause}")
    return {"destroyed": sorted(leaving), "erased": False, "kept": sorted(set(op.categories) & needed)}
