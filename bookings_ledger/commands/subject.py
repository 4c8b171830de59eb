"""`bookings-ledger subject find | show | erase`: one data subject, by blind index or by reference.

`find` prints subject references only (never a value). `show` decrypts through the ledger,
which records a `viewed` entry naming who and why before anything is printed. `erase` is the
ledger side of an erasure (crypto-shredding and its entries); Graph-side anonymisation is the
retention job's. Exit codes: 0 done; 1 the subject is erased (or, for `erase`, on legal hold); 2 bad usage,
an identifier without a canonical form, or a reference the ledger does not know.
"""
from __future__ import annotations

import dataclasses
import getpass
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from ledger.models import SubjectProjection
    from ledger.transactions import Ledger, LedgerTransaction

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of lines.")


@click.group()
def command() -> None:
    """Find, show or erase one data subject."""


@command.command("find")
@click.option("--email", help="An email address, in any spelling (case, IDN form, trailing dot...).")
@click.option("--phone", help="A phone number; national numbers are read in DEFAULT_PHONE_REGION.")
@JSON_OPTION
def find_command(email: str | None, phone: str | None, as_json: bool) -> None:
    """Print the references of the subjects the email or phone number finds, one a line."""
    from ledger.identifiers import IdentifierError

    if (email is None) == (phone is None):
        raise click.UsageError("give exactly one of --email and --phone")
    with _transaction() as tx:
        try:
            found = tx.find_subjects(email=email, phone=phone)
        except IdentifierError as exc:  # its message never repeats the value
            _refuse(f"{'--email' if email is not None else '--phone'}: {exc}")
    _print({"subjects": found}, as_json, lines=found)
    if not found and not as_json:
        click.echo("no subject found", err=True)


@command.command("show")
@click.argument("ref")
@click.option("--purpose", required=True, help="Why the data is viewed; recorded in the `viewed` entry.")
@click.option("--actor", help="Who views it, as recorded (default: the operating-system user).")
@JSON_OPTION
def show_command(ref: str, purpose: str, actor: str | None, as_json: bool) -> None:
    """Decrypt and print the subject's personal data; the view is recorded first."""
    from ledger.encryption import VaultError

    viewer = actor or getpass.getuser()
    with _transaction() as tx:
        if _require_known(tx, ref).status == "erased":
            click.echo(f"subject {ref} has no readable personal data (erased)", err=True)
            raise click.exceptions.Exit(1)
        try:
            values = tx.read_personal_data(ref, viewer=viewer, purpose=purpose)
        except VaultError:  # a category destroyed by retention
            click.echo(f"subject {ref} has personal data no key can read any more", err=True)
            raise click.exceptions.Exit(1) from None
    _print({"subject": ref, "viewer": viewer, "purpose": purpose, "values": values}, as_json,
           lines=[f"{field}: {value}" for field, value in values.items()])


@command.command("erase")
@click.argument("ref")
@click.option("--reason", required=True, help="Why the subject is erased; recorded in the `erased` entry.")
@JSON_OPTION
def erase_command(ref: str, reason: str, as_json: bool) -> None:
    """Crypto-shred the subject and print the erasure's receipt (its entries' seqs, ...)."""
    with _opened_ledger() as ledger:
        with ledger.transaction() as tx:
            projection = _require_known(tx, ref)
            if projection.status == "erased" or projection.on_hold:
                # A legal hold overrides erasure (DESIGN.md): it must be released first, on the record.
                state = "already erased" if projection.status == "erased" else "on legal hold"
                click.echo(f"subject {ref} is {state}", err=True)
                raise click.exceptions.Exit(1)
        receipt = ledger.erase_subject(ref, reason=reason)
    # Printed field by field from the receipt itself, so whatever it carries is shown.
    described = {"subject": ref, **dataclasses.asdict(receipt)}
    _print(described, as_json, lines=[f"{name}: {value}" for name, value in described.items()])


@contextmanager
def _opened_ledger() -> Iterator[Ledger]:
    from bookings_ledger.wiring import opened_ledger
    from config import load_settings

    with opened_ledger(load_settings()) as ledger:
        yield ledger


@contextmanager
def _transaction() -> Iterator[LedgerTransaction]:
    with _opened_ledger() as ledger, ledger.transaction() as tx:
        yield tx


def _require_known(tx: LedgerTransaction, ref: str) -> SubjectProjection:
    projection = tx.subject(ref)
    if projection is None:
        _refuse(f"no subject {ref} in the ledger")
    return projection


def _refuse(message: str) -> NoReturn:
    click.echo(f"bookings-ledger: {message}", err=True)
    raise click.exceptions.Exit(2)


def _print(document: Mapping[str, Any], as_json: bool, *, lines: list[str]) -> None:
    if as_json:
        click.echo(json.dumps(document, sort_keys=True, default=str))
        return
    for line in lines:
        click.echo(line)
