"""Erasing a data subject everywhere the service holds something of it, in one transaction.

    receipt = erase_subject(ledger, subject_ref, reason="erasure-request")

The ledger crypto-shreds the subject and records `erased` and `key-destroyed`
(`LedgerTransaction.erase_subject`); the working state it cannot see (state/ never imports the
ledger, nor the ledger state/) is reduced here, in the same transaction: the Bookings mirror's
rows of the subject lose their times, digests, version stamps and subject links and are marked
`erased` (and their Graph ids are the erasure's tombstones), and its retention due dates go.
Why here and not a callback inside the ledger: this is the one place that knows both, and the
mirror is what tells which Graph objects to tombstone; every command or job that erases calls this.
"""
from __future__ import annotations

from collections.abc import Mapping

from database.times import format_time
from ledger.entries import lock_head
from ledger.transactions import ErasureReceipt, Ledger
from state import bookings_mirror, retention_dues


def erase_subject(ledger: Ledger, subject_ref: str, *, reason: str, refs: Mapping[str, str] | None = None) -> ErasureReceipt:
    """Erase the subject from the ledger and the working state; tombstone its appointments and customers."""
    with ledger.transaction() as tx:
        # Taken first, as ingestion does: no worker writes the subject's rows while they are erased.
        lock_head(tx.session)
        erased = bookings_mirror.erase_subject_rows(tx.session, subject_ref, format_time(ledger.clock()))
        retention_dues.forget_subject(tx.session, subject_ref)
        return tx.erase_subject(subject_ref, reason=reason, refs=refs, tombstones=erased.tombstones())
