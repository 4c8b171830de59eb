"""`bookings-ledger subject find | show | erase | child`: one data subject, by blind index or by reference.

`find` prints subject references only (never a value). `show` decrypts through the ledger,
which records a `viewed` entry naming who and why before anything is printed. `erase` is the
ledger side of an erasure (crypto-shredding and its entries); Graph-side anonymisation is the
retention job's. `child` flags the subject as a child (jobs/children.py): its erasure on every
surface is planned at once, unless a legal hold covers it. Exit codes: 0 done; 1 the subject is
erased (or, for `erase`, on legal hold: the message names the holds); 2 bad usage, an identifier
without a canonical form, or a reference the ledger does not know.
"""
from __future__ import annotations

import dataclasses
import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from bookings_ledger.commands.shared import JSON_OPTION, opened_ledger, print_document, refuse

if TYPE_CHECKING:
    from ledger.models import SubjectProjection
    from ledger.transactions import LedgerTransaction


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
            refuse(f"{'--email' if email is not None else '--phone'}: {exc}")
    print_document({"subjects": found}, as_json, lines=found)
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
    print_document({"subject": ref, "viewer": viewer, "purpose": purpose, "values": values}, as_json,
           lines=[f"{field}: {value}" for field, value in values.items()])


@command.command("erase")
@click.argument("ref")
@click.option("--reason", required=True, help="Why the subject is erased; recorded in the `erased` entry.")
@JSON_OPTION
def erase_command(ref: str, reason: str, as_json: bool) -> None:
    """Crypto-shred the subject and print the erasure's receipt (its entries' seqs, ...)."""
    from ledger.holds import Held

    with opened_ledger() as ledger:
        with ledger.transaction() as tx:
            if _require_known(tx, ref).status == "erased":
                refuse(f"subject {ref} is already erased", 1)
        try:
            # The ledger checks the holds itself, in the erasure's own transaction (ledger/holds.py).
            receipt = ledger.erase_subject(ref, reason=reason)
        except Held as held:
            refuse(f"subject {ref} is on legal hold ({', '.join(held.hold_ids)}): release the hold first", 1)
    # Printed field by field from the receipt itself, so whatever it carries is shown.
    described = {"subject": ref, **dataclasses.asdict(receipt)}
    print_document(described, as_json, lines=[f"{name}: {value}" for name, value in described.items()])


@command.command("child")
@click.argument("ref")
@click.option("--reason", required=True, help="Why the subject is a child (kept in the officer's alert, not in the chain).")
@click.option("--by", "placed_by", help="Who flags it (default: the operating-system user).")
@JSON_OPTION
def child_command(ref: str, reason: str, placed_by: str | None, as_json: bool) -> None:
    """Flag the subject as a child: its erasure on every surface is planned now, unless held."""
    from jobs.children import flag_child

    with opened_ledger() as ledger:
        with ledger.transaction() as tx:
            if _require_known(tx, ref).status == "erased":
                refuse(f"subject {ref} is already erased", 1)
        flagged = flag_child(ledger, ref, by=placed_by or getpass.getuser(), reason=reason, now=ledger.clock())
    document = dataclasses.asdict(flagged)
    print_document(document, as_json, lines=[f"{name}: {value}" for name, value in document.items()])


@contextmanager
def _transaction() -> Iterator[LedgerTransaction]:
    with opened_ledger() as ledger, ledger.transaction() as tx:
        yield tx


def _require_known(tx: LedgerTransaction, ref: str) -> SubjectProjection:
    projection = tx.subject(ref)
    if projection is None:
        refuse(f"no subject {ref} in the ledger")
    return projection
