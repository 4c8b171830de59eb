"""`bookings-ledger retention status | run`: what expires when, and the retention job now.

    retention status [--days N] [--json]     due dates by category and day; no Graph call, no key store
    retention run [--dry-run] [--json]       evaluate the policy, then run the anonymisation operations

`run` records a new policy version, writes one `retention-expired` entry per expired record and
plans its anonymisation (jobs/retention.py), then runs the anonymiser over every open operation
(jobs/anonymise). `--dry-run` evaluates in a transaction it rolls back, without reading any time
zone from Graph, and lists what the anonymiser would send: it writes nothing and calls nothing.
Exit codes: 0 done; 1 the policy changed without a new `policy_version`, or a later version has
replaced this file's; 2 bad usage or settings.
"""
from __future__ import annotations

from typing import Any

import click

from bookings_ledger.commands.shared import JSON_OPTION, print_document, refuse


@click.group()
def command() -> None:
    """Show what expires when, or run retention and anonymisation now."""


@command.command("status")
@click.option("--days", type=click.IntRange(min=0), default=30, show_default=True, help="How far ahead to look.")
@JSON_OPTION
def status_command(days: int, as_json: bool) -> None:
    """What expires when, by data category and (UTC) day; overdue rows are due but held or not yet run."""
    from sqlalchemy.orm import Session

    from config import load_settings
    from database.engine import open_migrated
    from jobs.retention import status
    from ledger.transactions import utc_now

    engine = open_migrated(load_settings().DATABASE_URL)
    try:
        with Session(engine) as session:
            rows = status(session, utc_now(), days)
    finally:
        engine.dispose()
    lines = [f"{r['day']}  {r['category']:<20} {r['records']:>7} records{'  (overdue)' if r['overdue'] else ''}"
             for r in rows] or [f"nothing expires in the next {days} days"]
    print_document({"days": days, "expiring": rows}, as_json, lines=lines)


@command.command("run")
@click.option("--dry-run", is_flag=True, help="List what would expire and what would be sent to Graph; change nothing.")
@JSON_OPTION
def run_command(dry_run: bool, as_json: bool) -> None:
    """Evaluate the retention policy, then anonymise what expired."""
    from config import load_settings
    from bookings_ledger.wiring import opened_process, retention_services
    from jobs.retention import PolicyVersionSuperseded, PolicyVersionUnchanged

    with opened_process(load_settings()) as process:
        services = retention_services(process.ledger, process.graph, process.ingestor)
        try:
            report = services.evaluator.evaluate(dry_run=dry_run)
        except (PolicyVersionUnchanged, PolicyVersionSuperseded) as exc:
            refuse(str(exc), code=1)
        anonymised: Any = services.anonymiser.plan_dry_run() if dry_run else services.anonymiser.run()
    document = {**report.as_dict(), "expired": [e.as_dict() for e in report.expired],
                "held": [e.as_dict() for e in report.held], "anonymisation": anonymised}
    print_document(document, as_json, lines=_lines(report, anonymised, dry_run))


def _lines(report: Any, anonymised: Any, dry_run: bool) -> list[str]:
    verb = "would expire" if dry_run else "expired"
    lines = [f"{e.object_type} {e.object_id} subject {e.subject_ref}: {verb} {', '.join(e.categories)}"
             for e in report.expired]
    lines += [f"{e.object_type} {e.object_id} subject {e.subject_ref}: held by {', '.join(e.holds)}" for e in report.held]
    if report.policy_changed:
        lines.append(f"policy {report.policy_version} recorded; stricter: {', '.join(report.policy_changed['stricter']) or 'none'}")
    if dry_run:
        lines += [f"operation {op['operation']}: would {op['strategy']} {op['object_type']} {op['object_id']}"
                  f" ({', '.join(op['categories'])}); next step {op['next_step']}"
                  f"{'; held by ' + ', '.join(op['held_by']) if op['held_by'] else ''}" for op in anonymised]
    else:
        lines.append("anonymisation: " + (", ".join(f"{n} {what}" for what, n in sorted(anonymised.items())) or "nothing to do"))
    lines.append(f"{len(report.expired)} records {verb}, {len(report.held)} held")
    return lines
