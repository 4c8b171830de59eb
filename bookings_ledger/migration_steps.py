"""The migration steps that need the ledger's code and keys, handed to `database.engine.upgrade` by name.

A migration asks for a step only when it has data to convert, so a new database migrates without
any key; each step loads the keys it needs from the settings then, and a missing one stops
`db upgrade` with a line naming it.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session


def data_steps(settings: Any, report: Callable[[str], None] = lambda line: None) -> dict[str, Callable[[Connection], None]]:
    """The steps by the names the migrations ask for; `report` is told what each did (ids and counts only)."""
    return {"move_data_keys": partial(move_data_keys, settings, report),
            "reindex_blind_indexes": partial(reindex_blind_indexes, settings, report)}


def move_data_keys(settings: Any, report: Callable[[str], None], connection: Connection) -> None:
    """0007_key_store: each subject's data keys to the key store, its rows re-encrypted per category."""
    from ledger.encryption import MasterKeys
    from ledger.key_store_migration import move_data_keys as move
    from ledger.keystore import keystore_from_settings

    master = MasterKeys(settings.key("LEDGER_MASTER_KEY"), tuple(settings.previous_master_keys))
    keystore = keystore_from_settings(settings, master)
    try:
        moved = move(connection, keystore, master)
    finally:
        keystore.close()
    report(f"moved the data keys of {moved} subjects to the key store (re-encrypted per category)")


def reindex_blind_indexes(settings: Any, report: Callable[[str], None], connection: Connection) -> None:
    """0009_reindex_identifiers: every blind index recomputed from the decrypted email/phone values."""
    from ledger.blind_index import reindex_all
    from ledger.keystore import keystore_from_settings
    from ledger.transactions import LedgerKeys

    keys = LedgerKeys.from_settings(settings)
    keystore = keystore_from_settings(settings, keys.master)
    try:
        # The session joins the migration's transaction: the re-index commits with the revision.
        with Session(bind=connection) as session:
            done = reindex_all(session, keys, keystore)
            session.flush()
    finally:
        keystore.close()
    report(f"re-indexed {done.subjects} subjects ({done.digests} digests; {done.unindexable} values no longer indexable)")
