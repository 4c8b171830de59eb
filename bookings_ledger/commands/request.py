"""`bookings-ledger request create | list | show | verify | run | extend | reject | confirm | discard`.

    request create --type T (--email E | --phone P ...) [--regime gdpr|ccpa] [--channel C] [--text T] [--correction F=V]
    request list [--state S]            request show ID
    request verify ID --method M --matched POINT [--matched POINT...] [--declaration]
    request run ID                      the request carried out now, to its certificate (jobs/requests)
    request extend ID --reason R [--note N]     request reject ID --reason R [--note N]
    request confirm ID [--type T] [--regime R]  request discard ID

Every decision goes through ledger/requests.py, as the dashboard's and the API's do, recorded as
`--by` (default: the operating-system user); a request is shown as the API shows it (ids, types,
states, dates: never the requester's contact details). Exit codes: 0 done; 1 the request's state
does not allow it (an unverified request asked to run included; the message says why), or its
run failed; 2 bad usage, an address without a canonical form, a request the ledger does not know.
"""
from __future__ import annotations

import dataclasses
import getpass
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from bookings_ledger.commands.shared import JSON_OPTION, opened_ledger, print_document, refuse
from ledger.requests import CHANNELS, CLOSED_STATES, EXTENSION_REASONS, METHODS, OPEN_STATES, REFUSAL_REASONS, REQUEST_TYPES

if TYPE_CHECKING:
    from ledger.models import RequestProjection
    from ledger.transactions import LedgerTransaction

BY_OPTION = click.option("--by", "by", help="Who decides, as recorded (default: the operating-system user).")
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")   # a name goes into the ledger's entries: names only
REGIME_OPTION = click.option("--regime", type=click.Choice(["gdpr", "ccpa"]), help="Default: REQUEST_REGIME.")


@click.group()
def command() -> None:
    """Receive, decide on and run data-subject requests."""


@command.command("create")
@click.option("--type", "request_type", required=True, type=click.Choice(REQUEST_TYPES))
@click.option("--email", help="The requester's email address, to answer by.")
@click.option("--phone", help="The requester's telephone number.")
@REGIME_OPTION
@click.option("--channel", type=click.Choice(CHANNELS), default="cli", show_default=True,
              help="How it came in (telephone, letter...).")
@click.option("--text", help="The requester's own words (kept encrypted).")
@click.option("--correction", "corrections", multiple=True, metavar="FIELD=VALUE", help="Rectification: the value asked for.")
@JSON_OPTION
def create_command(request_type: str, email: str | None, phone: str | None, regime: str | None, channel: str,
                   text: str | None, corrections: tuple[str, ...], as_json: bool) -> None:
    """Receive a request and print its id."""
    from ledger.requests import Intake, receive

    if email is None and phone is None:
        raise click.UsageError("give --email or --phone (or both): the request is answered by it")
    intake = Intake(request_type, channel, email=email, phone=phone, regime=regime, text=text,
                    corrections=_corrections(corrections))
    _decide(lambda tx, rules: receive(tx, intake, rules), as_json, known=None)


@command.command("list")
@click.option("--state", type=click.Choice(OPEN_STATES + CLOSED_STATES), help="Only requests in this state.")
@JSON_OPTION
def list_command(state: str | None, as_json: bool) -> None:
    """The requests, newest first, one a line: id, state, type, regime, due."""
    from sqlalchemy import select

    from ledger.models import RequestProjection

    chosen = select(RequestProjection).order_by(RequestProjection.received_at.desc(), RequestProjection.request_id)
    if state is not None:
        chosen = chosen.where(RequestProjection.state == state)
    with opened_ledger() as ledger, ledger.transaction() as tx:
        described = [_described(request) for request in tx.session.scalars(chosen)]
    lines = [f"{d['request_id']}  {d['state']:21}  {d['type']:13}  {d['regime']}  due {d['due_at']}" for d in described]
    print_document({"requests": described}, as_json, lines=lines)
    if not described and not as_json:
        click.echo("no requests", err=True)


@command.command("show")
@click.argument("request_id")
@JSON_OPTION
def show_command(request_id: str, as_json: bool) -> None:
    """One request, field by field."""
    with opened_ledger() as ledger, ledger.transaction() as tx:
        described = _described(_known(tx, request_id))
    print_document(described, as_json, lines=[f"{name}: {value}" for name, value in described.items()])


@command.command("verify")
@click.argument("request_id")
@click.option("--method", required=True, type=click.Choice(METHODS))
@click.option("--matched", "matched", multiple=True, required=True, metavar="POINT",
              help="The name of a data point matched (email, phone, address...); repeat for several. Never its value.")
@click.option("--declaration", is_flag=True, help="The requester signed a declaration (CCPA's high degree).")
@BY_OPTION
@JSON_OPTION
def verify_command(request_id: str, method: str, matched: tuple[str, ...], declaration: bool, by: str | None,
                   as_json: bool) -> None:
    """Record an identity check and the degree it reaches."""
    from ledger.requests import verify

    _decide(lambda tx, _: verify(tx, request_id, method=method, data_points=list(matched), by=_by(by),
                                 declaration=declaration), as_json, known=request_id)


@command.command("run")
@click.argument("request_id")
@JSON_OPTION
def run_command(request_id: str, as_json: bool) -> None:
    """Carry a verified request out now, through Graph, to its certificate."""
    from bookings_ledger.wiring import opened_services
    from config import load_settings
    from ledger.requests import why_not_startable

    with opened_ledger() as ledger, ledger.transaction() as tx:
        refusal = why_not_startable(_known(tx, request_id))
    if refusal is not None:
        refuse(refusal, 1)       # before any Graph client exists; `start` asks again under the lock
    with opened_services(load_settings()) as services:
        report = services.requests.run(request_id)
    described = dataclasses.asdict(report)
    print_document(described, as_json, lines=[f"{name}: {value}" for name, value in described.items()])
    if report.state == "failed":
        raise click.exceptions.Exit(1)


@command.command("extend")
@click.argument("request_id")
@click.option("--reason", required=True, type=click.Choice(EXTENSION_REASONS))
@click.option("--note", help="The officer's note (kept encrypted with the requester's contact).")
@BY_OPTION
@JSON_OPTION
def extend_command(request_id: str, reason: str, note: str | None, by: str | None, as_json: bool) -> None:
    """Extend the deadline once, inside the first period; the requester is told."""
    from ledger.requests import extend

    _decide(lambda tx, rules: extend(tx, request_id, reason=reason, note=note, by=_by(by), rules=rules), as_json,
            known=request_id)


@command.command("reject")
@click.argument("request_id")
@click.option("--reason", required=True, type=click.Choice(REFUSAL_REASONS))
@click.option("--note", help="The officer's note (kept encrypted with the requester's contact).")
@BY_OPTION
@JSON_OPTION
def reject_command(request_id: str, reason: str, note: str | None, by: str | None, as_json: bool) -> None:
    """Refuse the request with a reason; the requester is told it and their right to complain."""
    from ledger.requests import refuse as refuse_request

    _decide(lambda tx, _: refuse_request(tx, request_id, reason=reason, note=note, by=_by(by)), as_json,
            known=request_id)


@command.command("confirm")
@click.argument("request_id")
@click.option("--type", "request_type", type=click.Choice(REQUEST_TYPES), help="Correct the draft's guessed type.")
@REGIME_OPTION
@click.option("--correction", "corrections", multiple=True, metavar="FIELD=VALUE",
              help="Rectification: a value the mail asks for.")
@BY_OPTION
@JSON_OPTION
def confirm_command(request_id: str, request_type: str | None, regime: str | None, corrections: tuple[str, ...],
                    by: str | None, as_json: bool) -> None:
    """Confirm a draft from the privacy mailbox as a request."""
    from ledger.requests import confirm

    asked = _corrections(corrections)
    _decide(lambda tx, rules: confirm(tx, request_id, rules, request_type=request_type, regime=regime,
                                      corrections=asked, by=_by(by)), as_json, known=request_id)


@command.command("discard")
@click.argument("request_id")
@BY_OPTION
@JSON_OPTION
def discard_command(request_id: str, by: str | None, as_json: bool) -> None:
    """Discard a draft that is not a request (spam, a reply, a question)."""
    from ledger.requests import discard

    _decide(lambda tx, _: discard(tx, request_id, by=_by(by)), as_json, known=request_id)


def _decide(decision: Callable[[LedgerTransaction, Any], RequestProjection], as_json: bool, *, known: str | None) -> None:
    """Run one decision in its own transaction and print the request it leaves (its id alone without --json)."""
    from config import load_settings
    from ledger.identifiers import IdentifierError
    from ledger.requests import RequestError, RequestRules

    rules = RequestRules.from_settings(load_settings())
    with _transaction() as tx:
        if known is not None:
            _known(tx, known)
        try:
            decided = decision(tx, rules)
        except IdentifierError as exc:       # its message never repeats the value
            refuse(f"--email or --phone: {exc}")
        except RequestError as exc:
            refuse(str(exc), 1 if known is not None else 2)
        described = _described(decided)
    print_document(described, as_json, lines=[f"{described['request_id']}  {described['state']}"])


@contextmanager
def _transaction() -> Iterator[LedgerTransaction]:
    with opened_ledger() as ledger, ledger.transaction() as tx:
        yield tx


def _known(tx: LedgerTransaction, request_id: str) -> RequestProjection:
    from ledger.requests import get

    request = get(tx, request_id)
    if request is None:
        refuse(f"no request {request_id} in the ledger")
    return request


def _described(request: RequestProjection) -> dict[str, Any]:
    # The API's own model: the command and /api/v1 show a request the same way.
    from dashboard.api.models import Request

    return Request.of(request).model_dump(mode="json")


def _corrections(given: tuple[str, ...]) -> dict[str, str]:
    pairs = [item.partition("=") for item in given]
    if any(not FIELD_NAME.fullmatch(name) or not sep for name, sep, _ in pairs):
        raise click.UsageError("--correction takes FIELD=VALUE, FIELD a name such as email or phone")
    return {name: value for name, _, value in pairs}


def _by(by: str | None) -> str:
    return by or getpass.getuser()
