"""`bookings-ledger hold place | release | list`: legal holds (ledger/holds.py).

    hold place --subject REF | --appointment ID | --business ID --reason TEXT [--until DATE] [--by NAME]
    hold release ID --reason TEXT [--by NAME]
    hold list [--all]

`place` prints the new hold's id. A hold stops every erasure, anonymisation and deletion of what
it covers until it is released or its `--until` day has passed; what fell due meanwhile runs
after. Exit codes: 0 done; 1 the hold to release is unknown or released already; 2 bad usage
(no scope or two, an end in the past, a subject the ledger does not know).
"""
from __future__ import annotations

import getpass
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from bookings_ledger.commands.shared import JSON_OPTION, opened_ledger, print_document, refuse

if TYPE_CHECKING:
    from ledger.holds import Hold

SCOPE_OPTIONS = ("subject", "appointment", "business")


@click.group()
def command() -> None:
    """Place, release or list legal holds."""


@command.command("place")
@click.option("--subject", help="A subject reference (from `subject find`).")
@click.option("--appointment", help="A Bookings appointment id.")
@click.option("--business", help="A booking business id (its whole mailbox).")
@click.option("--reason", required=True, help="Why the law requires keeping it (kept out of the chain).")
@click.option("--until", "until", help="Last day of the hold (ISO date, UTC), or an ISO time with offset; default: until released.")
@click.option("--by", "placed_by", help="Who places it (default: the operating-system user).")
@JSON_OPTION
def place_command(subject: str | None, appointment: str | None, business: str | None, reason: str, until: str | None,
                  placed_by: str | None, as_json: bool) -> None:
    """Place a legal hold and print its id."""
    from ledger.holds import place_hold

    given = [(scope, value) for scope, value in zip(SCOPE_OPTIONS, (subject, appointment, business)) if value]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --subject, --appointment and --business")
    [(scope, target)] = given
    with opened_ledger() as ledger, ledger.transaction() as tx:
        now = ledger.clock()
        ends_at = _end(until, now)
        if scope == "subject" and tx.subject(target) is None:
            refuse(f"no subject {target} in the ledger")
        hold = place_hold(tx, scope, target, reason=reason, placed_by=placed_by or getpass.getuser(), ends_at=ends_at)
    print_document(_described(hold, now), as_json, lines=[hold.id])


@command.command("release")
@click.argument("hold_id")
@click.option("--reason", required=True, help="Why the hold ends (kept out of the chain).")
@click.option("--by", "released_by", help="Who releases it (default: the operating-system user).")
@JSON_OPTION
def release_command(hold_id: str, reason: str, released_by: str | None, as_json: bool) -> None:
    """Release a legal hold; what fell due while it held runs at the next retention run."""
    from ledger.holds import UnknownHold, release_hold

    with opened_ledger() as ledger, ledger.transaction() as tx:
        try:
            hold = release_hold(tx, hold_id, reason=reason, released_by=released_by or getpass.getuser())
        except UnknownHold:
            refuse(f"no active hold {hold_id}", 1)
    print_document(_described(hold, hold.released_at), as_json, lines=[f"{hold.id} released"])


@command.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also the released and lapsed holds.")
@JSON_OPTION
def list_command(show_all: bool, as_json: bool) -> None:
    """The active holds (with --all, every hold), oldest first, one a line."""
    from ledger.holds import active_holds, all_holds

    with opened_ledger() as ledger, ledger.transaction() as tx:
        now = ledger.clock()
        holds = all_holds(tx.session) if show_all else active_holds(tx.session, now)
    described = [_described(hold, now) for hold in holds]
    lines = [f"{d['id']}  {d['state']:8}  {d['scope']}:{d['target']}  until {d['ends_at'] or 'released'}  "
             f"by {d['placed_by']}: {d['reason']}" for d in described]
    print_document({"holds": described}, as_json, lines=lines)
    if not holds and not as_json:
        click.echo("no holds", err=True)


def _end(until: str | None, now: datetime) -> datetime | None:
    """The moment the hold lapses (`ledger.holds.parse_end`), or None: until released."""
    from ledger.holds import parse_end

    if until is None:
        return None
    try:
        return parse_end(until, now)
    except ValueError as exc:
        refuse(f"--until: {exc}")


def _described(hold: Hold, now: datetime) -> dict[str, Any]:
    state = "active" if hold.active(now) else "released" if hold.released_at else "lapsed"
    return {**{name: value.isoformat() if isinstance(value, datetime) else value for name, value in asdict(hold).items()},
            "state": state}
