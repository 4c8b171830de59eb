"""What several subcommands share: the ledger of the settings, `--json`, and the one refusal shape."""
from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from ledger.transactions import Ledger

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of lines.")


@contextmanager
def opened_ledger() -> Iterator[Ledger]:
    """The ledger of the environment's settings (bookings_ledger.wiring.opened_ledger)."""
    from bookings_ledger.wiring import opened_ledger as opened
    from config import load_settings

    with opened(load_settings()) as ledger:
        yield ledger


def refuse(message: str, code: int = 2) -> NoReturn:
    """Print `bookings-ledger: MESSAGE` on stderr and exit with `code` (2: bad usage; 1: the thing checked is wrong)."""
    click.echo(f"bookings-ledger: {message}", err=True)
    raise click.exceptions.Exit(code)


def print_document(document: Mapping[str, Any], as_json: bool, *, lines: list[str]) -> None:
    """One JSON object with --json, else the lines."""
    if as_json:
        click.echo(json.dumps(document, sort_keys=True, default=str))
        return
    for line in lines:
        click.echo(line)
