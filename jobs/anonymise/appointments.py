"""The appointment surface: the rewrite or strip PATCH, then the DELETE when nothing needs it.

Both steps start from a fresh GET (batched): a step found `sending` after a crash or an unknown
answer is settled by that read (the person's data gone from `customers[]`: it took), and only
when the read shows it did not take is a new PATCH computed from what Graph now holds. A DELETE
found `sending` is settled by its GET (404: done).
"""
from __future__ import annotations

from typing import Any

from connector import InvalidRequest
from jobs.anonymise import strategies
from jobs.anonymise.batched import answers, gone, unknown
from jobs.anonymise.context import Run, Work
from jobs.anonymise.journal import Journal, Outcome, evidence_of
from jobs.anonymise.surfaces import UNPATCHABLE, appointment_texts, residue


def patchable_residue(work: Work, document: dict[str, Any]) -> list[str]:
    """Places of the appointment a PATCH can clean that still hold the person's expired values."""
    return [p for p in residue(appointment_texts(document, work.others), work.needles) if p not in UNPATCHABLE]


def rewrite_step(run: Run, journal: Journal, works: list[Work]) -> None:
    """PATCH each appointment: the rewrite, or the strip before its DELETE."""
    fresh = answers(run.graph.bookings.appointment_documents(run.business, [w.op.object_id for w in works]),
                    [w.op.object_id for w in works])
    finished, to_send = [], {}
    for work in works:
        item = fresh[work.op.object_id]
        if gone(item):
            work.gone = True
            finished.append(Outcome(work, "appointment", "done", {"action": "gone", "graph": [evidence_of(item)]}))
            continue
        if item is None or item.value is None:
            continue   # could not read it now: the step waits for the next run
        work.document = item.value
        planned = work.steps["appointment"].evidence if work.state_of("appointment") == "sending" else None
        action = "strip" if deletable(run, work) else "rewrite"
        if planned is not None and _took(run, work, item.value, planned.get("action", action)):
            finished.append(Outcome(work, "appointment", "done", {**planned, "settled": "read-back",
                                                                   "graph": [evidence_of(item)]}, _entry(work, planned)))
        elif action == "rewrite" and not patchable_residue(work, item.value) and not _expired_content(run, work, item.value):
            finished.append(Outcome(work, "appointment", "skipped", {"action": "clean", "graph": [evidence_of(item)]}))
        else:
            to_send[work.op.id] = (work, action, item)
    journal.finish(finished)
    _send(run, journal, list(to_send.values()), allow_empty=True)


def deletable(run: Run, work: Work) -> bool:
    """Delete (after a strip) when the policy allows it and nothing needs the appointment."""
    return run.policy.anonymisation.appointment == "rewrite-or-delete" and not work.needed_by


def _send(run: Run, journal: Journal, planned: list[tuple[Work, str, Any]], *, allow_empty: bool,
          refusals: dict[str, dict[str, Any]] | None = None) -> None:
    bodies, plans = {}, {}
    refusals = refusals or {}
    for work, action, item in planned:
        if action == "strip":
            body, removed = strategies.strip_body(item.value, allow_empty=allow_empty), True
        else:
            body, removed = strategies.rewrite_body(item.value, work.customer_ids, work.op.categories, run.policy,
                                                    allow_empty=allow_empty)
        bodies[work.op.object_id] = body
        refused = [refusals[work.op.id]] if work.op.id in refusals else []
        plans[work.op.id] = {"action": action, "removed": removed, "empty_customers": not body["customers"],
                             "empty_refused": bool(refused), "graph": [evidence_of(item), *refused]}
    owned = {w.op.id for w in journal.sending([w for w, _, _ in planned], "appointment", plans)}
    planned = [p for p in planned if p[0].op.id in owned]
    bodies = {w.op.object_id: bodies[w.op.object_id] for w, _, _ in planned}
    sent = answers(run.graph.bookings.update_appointments(run.business, bodies), list(bodies))
    finished, refused, refusal = [], [], {}
    for work, action, item in planned:
        answer, plan = sent[work.op.object_id], plans[work.op.id]
        if unknown(answer):
            work.progressed = True        # stays `sending`: the next round reads it back
        elif gone(answer):
            work.gone = True
            finished.append(Outcome(work, "appointment", "done", {**plan, "action": "gone",
                                                                   "graph": plan["graph"] + [evidence_of(answer)]}))
        elif answer.error is None:
            evidence = {**plan, "graph": plan["graph"] + [evidence_of(answer)]}
            finished.append(Outcome(work, "appointment", "done", evidence, _entry(work, evidence)))
        elif isinstance(answer.error, InvalidRequest) and plan["empty_customers"] and allow_empty:
            refused.append((work, action, item))   # an empty customers[] refused (§2.2): nothing was written
            refusal[work.op.id] = evidence_of(answer)
        else:
            finished.append(Outcome(work, "appointment", "failed", {**plan, "graph": plan["graph"] + [evidence_of(answer)]}))
    journal.finish(finished)
    if refused:
        _send(run, journal, refused, allow_empty=False, refusals=refusal)


def delete_step(run: Run, journal: Journal, works: list[Work]) -> None:
    """DELETE the stripped appointments (the rewritten ones skip this step)."""
    finished = [Outcome(w, "appointment-delete", "skipped", {"action": "kept"})
                for w in works if w.steps["appointment"].evidence.get("action") != "strip"]
    journal.finish(finished)
    works = [w for w in works if w.steps["appointment"].evidence.get("action") == "strip"]
    settling = [w for w in works if w.state_of("appointment-delete") == "sending"]
    if settling:
        read = answers(run.graph.bookings.appointment_documents(run.business, [w.op.object_id for w in settling]),
                       [w.op.object_id for w in settling])
        done = [w for w in settling if gone(read[w.op.object_id])]
        journal.finish(Outcome(w, "appointment-delete", "done", {**w.steps["appointment-delete"].evidence,
                                                                 "settled": "read-back",
                                                                 "graph": [evidence_of(read[w.op.object_id])]},
                               _entry(w, {"action": "delete", "graph": []}))
                       for w in done)
        works = [w for w in works if w not in done and (w not in settling or read[w.op.object_id] is not None)]
    works = journal.sending(works, "appointment-delete", {w.op.id: {"action": "delete"} for w in works})
    sent = answers(run.graph.bookings.delete_appointments(run.business, [w.op.object_id for w in works]),
                   [w.op.object_id for w in works])
    finished = []
    for work in works:
        answer = sent[work.op.object_id]
        if unknown(answer):
            work.progressed = True
            continue
        evidence = {"action": "delete", "graph": [evidence_of(answer)]}
        if answer.error is None or gone(answer):
            work.gone = True
            finished.append(Outcome(work, "appointment-delete", "done", evidence, _entry(work, evidence)))
        else:
            finished.append(Outcome(work, "appointment-delete", "failed", evidence))
    journal.finish(finished)


def _took(run: Run, work: Work, document: dict[str, Any], action: str) -> bool:
    """Whether a PATCH whose answer was lost took effect, judged from a fresh read."""
    if action == "strip":
        return not any(e.get("emailAddress") or e.get("name") for e in document.get("customers") or ())
    return not patchable_residue(work, document) and not _expired_content(run, work, document)


def _expired_content(run: Run, work: Work, document: dict[str, Any]) -> bool:
    """Whether the person's element still carries a member of an expired category a PATCH can
    change (its notes cannot: graph-facts §1.3; the read-back records them if they remain)."""
    members = {m for m, c in strategies.element_categories(run.policy).items() if c in work.op.categories and m != "notes"}
    return any(strategies.is_mine(e, work.customer_ids) and any(e.get(m) for m in members)
               for e in document.get("customers") or ())


def _entry(work: Work, evidence: dict[str, Any]) -> dict[str, Any]:
    return {"surface": "appointment", "action": evidence.get("action"), "categories": list(work.op.categories),
            "graph": evidence.get("graph", [])}
