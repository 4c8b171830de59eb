"""`bookings-ledger token create | revoke | list`: API tokens for /api/v1 (state/api_tokens.py).

    token create --name N --scope S [--scope S...] [--days D]   the token, printed once
    token revoke ID
    token list

`create` prints the token itself once: only its hash is kept, so a lost token is revoked and
replaced, never recovered. Scopes: requests:read, requests:write (create, confirm, verify, extend,
refuse), requests:run (queue a verified request to run). Exit codes: 0 done; 1 the token to revoke
is unknown; 2 bad usage (an unknown scope, no scope, a blank name).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import click

from bookings_ledger.commands.shared import JSON_OPTION, print_document, refuse
from state.api_tokens import SCOPES

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from state.api_tokens import TokenInfo


@click.group()
def command() -> None:
    """Create, revoke or list API tokens."""


@command.command("create")
@click.option("--name", required=True, help="What the token is for (an automation's name); no personal data.")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(SCOPES), help="A scope; repeat for several.")
@click.option("--days", type=click.IntRange(1, 730), help="Lifetime in days (default: API_TOKEN_DAYS).")
@JSON_OPTION
def create_command(name: str, scopes: tuple[str, ...], days: int | None, as_json: bool) -> None:
    """Create a token and print it, once."""
    from state.api_tokens import TokenError, create_token

    with _engine() as (engine, settings):
        try:
            issued = create_token(engine, name, scopes, _now(), days=days or settings.API_TOKEN_DAYS)
        except TokenError as exc:
            refuse(str(exc))
    document = {**_described(issued.info), "token": issued.token}
    print_document(document, as_json, lines=[issued.token])
    if not as_json:
        click.echo(f"token {issued.info.token_id} ({' '.join(issued.info.scopes)}) expires "
                   f"{issued.info.expires_at.isoformat()}; it is shown only now", err=True)


@command.command("revoke")
@click.argument("token_id")
@JSON_OPTION
def revoke_command(token_id: str, as_json: bool) -> None:
    """Revoke a token for good: every later call with it is refused."""
    from state.api_tokens import revoke_token

    with _engine() as (engine, _):
        info = revoke_token(engine, token_id, _now())
    if info is None:
        refuse(f"no token {token_id}", 1)
    print_document(_described(info), as_json, lines=[f"{token_id} revoked"])


@command.command("list")
@JSON_OPTION
def list_command(as_json: bool) -> None:
    """Every token (never its secret), oldest first, one a line."""
    from state.api_tokens import list_tokens

    with _engine() as (engine, _):
        described = [_described(info) for info in list_tokens(engine)]
    lines = [f"{d['id']}  {d['state']:7}  {' '.join(d['scopes'])}  expires {d['expires_at']}  "
             f"last used {d['last_used_at'] or 'never'}  {d['name']}" for d in described]
    print_document({"tokens": described}, as_json, lines=lines)
    if not described and not as_json:
        click.echo("no tokens", err=True)


@contextmanager
def _engine() -> Iterator[tuple[Engine, Any]]:
    from config import load_settings
    from database.engine import open_migrated

    settings = load_settings()
    engine = open_migrated(settings.DATABASE_URL)
    try:
        yield engine, settings
    finally:
        engine.dispose()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _described(info: TokenInfo) -> dict[str, Any]:
    return {"id": info.token_id, "name": info.name, "scopes": list(info.scopes), "state": info.state(_now()),
            "created_at": _stamp(info.created_at), "expires_at": _stamp(info.expires_at),
            "revoked_at": _stamp(info.revoked_at), "last_used_at": _stamp(info.last_used_at)}


def _stamp(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
