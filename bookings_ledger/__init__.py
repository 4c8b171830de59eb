"""The composition root: the `bookings-ledger` command and the Flask app factory.

It is the only code besides tests that imports all the packages and wires them together; here,
the one wiring every process shares: key settings left to Key Vault are read by the connector.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from config.key_vault import use_reader

if TYPE_CHECKING:
    from config import Settings


def _read_from_key_vault(settings: Settings, setting: str) -> str | None:
    # Imported when a key is first asked for, so `--help` and the web process's import stay cheap.
    from connector.key_vault import read_secret

    return read_secret(settings, setting)


use_reader(_read_from_key_vault)
