"""The appointment's copy in the scheduling mailbox: rewritten, or deleted when it outlived its appointment.

Run after the appointment's own write, so the copy is read as Bookings left it (Bookings
re-projects the copy when the appointment changes; whether it strips the answers is the CONFLICT
of privacy-facts §2.5). The copy is the event the mirror matched to the appointment, or else the
mailbox's events at exactly the appointment's time. A copy that still holds the person's values
is PATCHed with them cut out of its subject and body, or DELETEd when the appointment is gone.
Needs Calendars.ReadWrite. Every copy found is named in the step's evidence, so the read-back
reads each again by id; a write's `sending` is settled by the next round's lookup.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from connector.parse import parse_event
from database.times import parse_time
from jobs.anonymise.batched import answers, gone, unknown
from jobs.anonymise.context import Run, Work
from jobs.anonymise.journal import Journal, Outcome, evidence_of
from jobs.anonymise.surfaces import event_texts, redacted, residue

EDGE = timedelta(minutes=1)   # the lookup window around the appointment; the match is on exact times


def event_step(run: Run, journal: Journal, works: list[Work]) -> None:
    """Find each appointment's calendar copy and clean it where it holds the person's values."""
    unknown_window = [w for w in works if w.window[2] is None and (w.window[0] is None or w.window[1] is None)]
    journal.finish(Outcome(w, "event", "skipped", {"action": "no-copy-known"}) for w in unknown_window)
    works = _read_appointments(run, [w for w in works if w not in unknown_window])
    copies, lookups = _copies(run, works)
    finished, writes = [], {}
    for work in works:
        lookup = lookups.get(work.op.id)
        if lookup is None or (lookup.error is not None and not gone(lookup)):
            continue   # could not look now: the step waits for the next run
        found = copies.get(work.op.id, [])
        dirty = [e for e in found if residue(event_texts(e), work.copy_needles())]
        if not dirty:
            # The read-back reads every copy found again, whatever this step did to it.
            planned = work.steps["event"].evidence if work.state_of("event") == "sending" else {}
            finished.append(Outcome(work, "event", "done", {**planned, "action": planned.get("action", "clean"),
                                                             "events": sorted({*planned.get("events", []), *(e["id"] for e in found)}),
                                                             "graph": planned.get("graph", []) + [evidence_of(lookup)]},
                                    _entry(work, planned) if planned else None))
        else:
            writes[work.op.id] = (work, dirty, lookup)
    journal.finish(finished)
    _write(run, journal, list(writes.values()))


def _read_appointments(run: Run, works: list[Work]) -> list[Work]:
    """The works whose appointment is gone or read in this run, reading (batched) those not read yet:
    the other customers' values on it decide what of the copy is this person's (Work.copy_needles).
    One that cannot be read now waits for the next run."""
    unread = [w for w in works if w.document is None and not w.gone and w.state_of("appointment-delete") != "done"]
    if unread:
        ids = [w.op.object_id for w in unread]
        read = answers(run.graph.bookings.appointment_documents(run.business, ids), ids)
        for work in unread:
            item = read[work.op.object_id]
            work.gone = gone(item)
            work.document = item.value if item is not None and item.error is None else None
    return [w for w in works if w.document is not None or w.gone or w.state_of("appointment-delete") == "done"]


def _copies(run: Run, works: list[Work]) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """Operation id -> the calendar copies found, and -> the answer of its lookup (evidence)."""
    copies: dict[str, list[dict[str, Any]]] = {}
    lookups: dict[str, Any] = {}
    by_id = {w.window[2]: w for w in works if w.window[2]}
    if by_id:
        read = answers(run.graph.mailbox.event_documents(run.business, list(by_id)), list(by_id))
        for event_id, work in by_id.items():
            item = read[event_id]
            lookups[work.op.id] = item
            copies[work.op.id] = [item.value] if item is not None and item.value is not None else []
    windows = {w.op.id: w for w in works if not w.window[2]}
    if windows:
        spans = {key: (parse_time(w.window[0]) - EDGE, parse_time(w.window[1]) + EDGE) for key, w in windows.items()}  # type: ignore[arg-type]
        read = answers(run.graph.mailbox.event_documents_between(run.business, spans), list(spans))
        for key, work in windows.items():
            item = read[key]
            lookups[key] = item
            start, end = parse_time(work.window[0]), parse_time(work.window[1])  # type: ignore[arg-type]
            listed = item.value if item is not None and item.value is not None else []
            copies[key] = [e for e in listed if _at(e, start, end)]
    return copies, lookups


def _at(event: dict[str, Any], start: datetime, end: datetime) -> bool:
    parsed = parse_event(event)
    return parsed.start == start and parsed.end == end


def _write(run: Run, journal: Journal, planned: list[tuple[Work, list[dict[str, Any]], Any]]) -> None:
    def deleting(work: Work) -> bool:
        return work.gone or work.state_of("appointment-delete") == "done"

    plans = {work.op.id: {"action": "delete" if deleting(work) else "rewrite", "events": [e["id"] for e in dirty],
                          "graph": [evidence_of(lookup)]} for work, dirty, lookup in planned}
    owned = {w.op.id for w in journal.sending([w for w, _, _ in planned], "event", plans)}
    planned = [p for p in planned if p[0].op.id in owned]
    changes = {e["id"]: _cleaned(e, work) for work, dirty, _ in planned if not deleting(work) for e in dirty}
    deletes = [e["id"] for work, dirty, _ in planned if deleting(work) for e in dirty]
    sent = answers(run.graph.mailbox.update_events(run.business, changes), list(changes)) if changes else {}
    if deletes:
        sent.update(answers(run.graph.mailbox.delete_events(run.business, deletes), deletes))
    finished = []
    for work, dirty, _ in planned:
        results = [sent[e["id"]] for e in dirty]
        plan = {**plans[work.op.id], "graph": plans[work.op.id]["graph"] + [evidence_of(r) for r in results if r]}
        if any(unknown(r) for r in results):
            work.progressed = True      # stays `sending`: the next round's lookup settles it
        elif all(r.error is None or gone(r) for r in results):  # type: ignore[union-attr]
            finished.append(Outcome(work, "event", "done", plan, _entry(work, plan)))
        else:
            finished.append(Outcome(work, "event", "failed", plan))
    journal.finish(finished)


def _cleaned(event: dict[str, Any], work: Work) -> dict[str, Any]:
    """The PATCH of a copy: the dirty subject and body with the person's values cut out."""
    found = work.copy_needles()
    places = residue(event_texts(event), found)
    change: dict[str, Any] = {}
    if "subject" in places:
        change["subject"] = redacted(event["subject"], found)
    if "body" in places or "bodyPreview" in places:
        body = event.get("body") or {}
        change["body"] = {"contentType": body.get("contentType") or "text", "content": redacted(body.get("content") or "", found)}
    return change


def _entry(work: Work, evidence: dict[str, Any]) -> dict[str, Any]:
    return {"surface": "event", "action": evidence.get("action"), "categories": list(work.op.categories),
            "graph": evidence.get("graph", []), "event": ",".join(evidence.get("events", []))}
