"""Access and portability archives at rest: their rows, their encryption, and the one way to open one.

    exports                one row per archive: the request, where its ciphertext lies in EXPORT_DIR, the
                           key-store subject and category of its key, its scope (`full`, or `categories`
                           under CCPA below `high`), when it was made and expires, when its key was destroyed

The archive (jobs/requests/export.py builds it) is sealed with AES-256-GCM under a random key kept
in the key store, under the requester's subject and a category of its own (`~export.<id>`), bound
to its export and request ids. Destroying that key (at expiry, or when the requester is erased)
leaves ciphertext only. No personal data in the rows: ids, paths, sizes, digests and times.

`open_export` is here, and not with the builder in jobs/, because the dashboard's officer download
and the portal's single-use link both call it and neither may import jobs; it takes the `Ledger`
as a collaborator (state may not import ledger) and returns the bytes only once the `exported`
entry that records the download has committed.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import BigInteger, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import NAME, REF, TIME, Base
from database.times import format_time

NONCE_SIZE = 12
KEY_CATEGORY_PREFIX = "~export."   # a key-store category of its own, never a policy category (like ~subject-secret)
SCOPES = ("full", "categories")


class ExportGone(LookupError):
    """No archive can be opened for the request: none was made, it expired, or its key was destroyed."""


class ExportRow(Base):
    """One encrypted archive of a request's export."""

    __tablename__ = "exports"
    export_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    key_subject: Mapped[str] = mapped_column(REF, index=True)
    key_category: Mapped[str] = mapped_column(NAME)
    path: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(16))
    subjects: Mapped[str] = mapped_column(Text)                 # JSON list of the subject refs it covers
    size: Mapped[int] = mapped_column(BigInteger)               # bytes of ciphertext
    sha256: Mapped[str] = mapped_column(String(64))             # of the ciphertext
    created_at: Mapped[str] = mapped_column(TIME)
    expires_at: Mapped[str] = mapped_column(TIME, index=True)
    destroyed_at: Mapped[str | None] = mapped_column(TIME, nullable=True)


@dataclass(frozen=True)
class OpenedExport:
    """A decrypted archive and the `exported` entry that recorded its download."""

    export_id: str
    archive: bytes
    seq: int


def key_category(export_id: str) -> str:
    """The key-store category of an export's key."""
    return f"{KEY_CATEGORY_PREFIX}{export_id}"


def seal(key: bytes, archive: bytes, export_id: str, request_id: str) -> bytes:
    """The archive encrypted under its key, bound to its export and request: nonce || AES-GCM ciphertext."""
    nonce = os.urandom(NONCE_SIZE)
    return nonce + AESGCM(key).encrypt(nonce, archive, _context(export_id, request_id))


def unseal(key: bytes, sealed: bytes, export_id: str, request_id: str) -> bytes:
    """The archive; ExportGone (naming the export) if it does not authenticate under its key and ids."""
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], _context(export_id, request_id))
    except InvalidTag:
        raise ExportGone(f"export {export_id} does not decrypt under its key") from None


def latest_export(session: Session, request_id: str) -> ExportRow | None:
    """The request's newest archive whose key has not been destroyed."""
    statement = (select(ExportRow).where(ExportRow.request_id == request_id, ExportRow.destroyed_at.is_(None))
                 .order_by(ExportRow.created_at.desc(), ExportRow.export_id))
    return session.scalars(statement).first()


def due_for_destruction(session: Session, now: str) -> list[ExportRow]:
    """Archives whose link lifetime has passed and whose key still exists, oldest first."""
    statement = select(ExportRow).where(ExportRow.expires_at <= now, ExportRow.destroyed_at.is_(None))
    return list(session.scalars(statement.order_by(ExportRow.expires_at, ExportRow.export_id)))


def expire_covering(session: Session, subject: str, now: str) -> int:
    """End now the link lifetime of every live archive that holds `subject`'s data (its erasure):
    nothing opens it from this transaction on, and `expire-exports` destroys its key at its next run."""
    # Subject refs are hex, so the quoted ref matches exactly one element of the JSON list.
    rows = session.scalars(select(ExportRow).where(ExportRow.subjects.like(f'%"{subject}"%'), ExportRow.expires_at > now,
                                                   ExportRow.destroyed_at.is_(None)))
    expired = 0
    for row in rows:
        row.expires_at, expired = now, expired + 1
    return expired


def open_export(ledger: Any, request_id: str, *, by: str = "subject") -> bytes:
    """The request's archive, decrypted, once an `exported` entry (action `downloaded`, actor `by`) committed.

    `ledger` is a ledger.transactions.Ledger. ExportGone when there is no live archive (expired, its
    key destroyed, its file removed): the caller answers with a page that reveals nothing more."""
    return open_recorded(ledger, request_id, by=by).archive


def open_recorded(ledger: Any, request_id: str, *, by: str) -> OpenedExport:
    """`open_export`, with the export id and the seq of the `exported` entry."""
    with ledger.transaction() as tx:
        row = latest_export(tx.session, request_id)
        now = format_time(tx.clock())
        if row is None or row.expires_at <= now:
            raise ExportGone(f"request {request_id} has no export that may still be opened")
        key = ledger.keystore.existing_keys(row.key_subject).get(row.key_category)
        path = Path(row.path)
        if key is None or not path.is_file():
            raise ExportGone(f"export {row.export_id}: its key or its file is gone")
        archive = unseal(key, path.read_bytes(), row.export_id, request_id)
        seq = tx.append("exported", subject=row.key_subject, refs={"request": request_id, "export": row.export_id},
                        action="downloaded", actor=by, scope=row.scope).seq
    return OpenedExport(row.export_id, archive, seq)


def subjects_of(row: ExportRow) -> list[str]:
    """The subjects an archive covers."""
    return list(json.loads(row.subjects))


def _context(export_id: str, request_id: str) -> bytes:
    return json.dumps(["export", export_id, request_id]).encode()
