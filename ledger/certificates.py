"""Certificates of completed requests: issued, signed, stored and recorded in the chain.

    certificate = issue_certificate(ledger, signer, request_id, facts)   # facts: jobs.requests.facts.CertificateFacts
    certificate.text        # the JSON file handed to the subject and a regulator
    stored_certificate(session, certificate_id) -> Certificate | None

Issuing signs a fresh checkpoint of the ledger (so every entry the facts cite is covered by a
signature made for this certificate), proves each cited entry's inclusion in it, writes the body
ledger/core/certificates.py specifies, signs it with CHECKPOINT_SIGNING_KEY, stores it in
`certificates` and appends `certificate-issued` (its id, SHA-256 and checkpoint size). Issuing
twice for one request returns the first certificate. The document holds ids, codes, counts and
times only; `verify_certificate` (the pure core) checks it offline with the verifier key alone.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import BigInteger, Connection, String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import TIME, Base
from database.times import format_time, parse_time
from ledger import requests
from ledger.checkpoint_store import CheckpointSigner, create_checkpoint, write_checkpoint_file
from ledger.core import merkle
from ledger.core.canonical import GENESIS_HASH, parse_entry
from ledger.core.certificates import FORMAT, sign_certificate
from ledger.entries import stream_hashes
from ledger.models import CheckpointRecord, LedgerEntry, RequestProjection
from ledger.transactions import Ledger

ERASURE_TYPES = frozenset({"erasure", "child-erasure"})
EXPORT_TYPES = frozenset({"access", "portability"})
# Exchange keeps permanently deleted items in Recoverable Items 14 days by default, 30 at most
# (Set-Mailbox -RetainDeletedItemsFor; privacy-facts 2.6): the certificate states the longest.
RECOVERABLE_ITEMS_MAX = timedelta(days=30)


class CertifiedFacts(Protocol):
    """What a certificate states of a run (jobs.requests.facts.CertificateFacts): plain values and the seqs cited."""

    @property
    def seqs(self) -> tuple[int, ...]: ...

    def as_dict(self) -> dict[str, Any]: ...


class CertificateRecord(Base):
    """One issued certificate: its signed JSON document, as handed out (migration 0024_exports)."""

    __tablename__ = "certificates"
    certificate_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[str] = mapped_column(TIME)
    checkpoint_size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    document: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True)
class Certificate:
    """An issued certificate: its ids, the file's text and that text's SHA-256."""

    certificate_id: str
    request_id: str
    text: str
    sha256: str

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.text)


def issue_certificate(ledger: Ledger, signer: CheckpointSigner, request_id: str, facts: CertifiedFacts, *,
                      checkpoint_dir: Path | None = None) -> Certificate:
    """Sign a checkpoint for the request's certificate, prove the facts' seqs in it, sign, store and record it."""
    with ledger.transaction() as tx:
        existing = _of_request(tx.session, request_id)
        if existing is not None:
            return existing
        request = _closed_request(tx.session, request_id)
        checkpoint = create_checkpoint(tx.session, signer, tx.clock())
    if checkpoint_dir is not None:
        write_checkpoint_file(checkpoint, checkpoint_dir)
    with ledger.engine.connect() as connection:
        proven = proven_entries(connection, facts.seqs, checkpoint)
    certificate_id = f"cert_{secrets.token_hex(8)}"
    issued_at = format_time(ledger.clock())
    # Through JSON and back: tuples become lists, as the verifier reads them.
    stated = json.loads(json.dumps(facts.as_dict()))
    body = _body(certificate_id, issued_at, request, stated, checkpoint.note, proven)
    text = json.dumps(sign_certificate(body, signer.origin, signer.seed), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    try:
        with ledger.transaction() as tx:
            tx.session.add(CertificateRecord(certificate_id=certificate_id, request_id=request_id, issued_at=issued_at,
                                             checkpoint_size=checkpoint.size, sha256=digest, document=text))
            tx.session.flush()
            requests.record_certificate(tx, request_id, certificate_id, sha256=digest, checkpoint_size=checkpoint.size)
    except IntegrityError:
        # Another process certified the request between our two transactions: theirs stands.
        with ledger.transaction() as tx:
            return _require_of_request(tx.session, request_id)
    return Certificate(certificate_id, request_id, text, digest)


def stored_certificate(session: Session, certificate_id: str) -> Certificate | None:
    """The certificate of this id, as issued."""
    row = session.get(CertificateRecord, certificate_id)
    return None if row is None else _plain(row)


def proven_entries(connection: Connection, seqs: Iterable[int], checkpoint: CheckpointRecord) -> list[dict[str, Any]]:
    """For each seq: the entry, the hash before it, and its inclusion proof in the checkpoint (hex)."""
    wanted = sorted(set(seqs))
    if wanted and not 1 <= wanted[0] <= wanted[-1] <= checkpoint.size:
        raise merkle.ProofError(f"seqs {wanted[0]}..{wanted[-1]} are not all covered by a checkpoint of size {checkpoint.size}")
    with closing(stream_hashes(connection, checkpoint.size)) as entry_hashes:
        leaves = _Leaves(b"".join(entry_hashes))      # 32 bytes an entry: a million entries in 32 MB
    paths = merkle.inclusion_proofs((seq - 1 for seq in wanted), checkpoint.size, leaves)
    rows = connection.execute(select(LedgerEntry.seq, LedgerEntry.body).where(LedgerEntry.seq.in_(wanted)))
    bodies = {row.seq: row.body for row in rows}
    return [{"seq": seq, "previous_hash": (leaves.entry_hash(seq - 2) if seq > 1 else GENESIS_HASH).hex(),
             "entry": parse_entry(bodies[seq]), "proof": [node.hex() for node in paths[seq - 1]]} for seq in wanted]


class _Leaves(Sequence[bytes]):
    """The Merkle leaves of entry hashes stored end to end, each hashed when it is read."""

    def __init__(self, joined: bytes) -> None:
        self._joined = joined

    def __len__(self) -> int:
        return len(self._joined) // merkle.HASH_SIZE

    def __getitem__(self, index: int) -> bytes:  # type: ignore[override]
        return merkle.leaf_hash(self.entry_hash(index))

    def entry_hash(self, index: int) -> bytes:
        """The entry hash of leaf `index` (entry seq index + 1)."""
        return self._joined[index * merkle.HASH_SIZE:(index + 1) * merkle.HASH_SIZE]


def remains_for(request: RequestProjection, facts: Mapping[str, Any]) -> list[dict[str, str | None]]:
    """What may remain outside the service's reach after the request, and until when (None: no known end)."""
    if request.request_type in EXPORT_TYPES:
        return [{"where": "export-archive", "until": None,
                 "why": "the archive stays encrypted in EXPORT_DIR until its link expires; its key is then destroyed, "
                        "and copies the subject downloaded are the subject's own"}]
    if request.request_type not in ERASURE_TYPES:
        return []
    completed = parse_time(request.completed_at)  # a certified request is closed
    remains = [
        {"where": "recoverable-items", "until": format_time(completed + RECOVERABLE_ITEMS_MAX),
         "why": "Exchange keeps permanently deleted calendar items of the scheduling and staff mailboxes in "
                "Recoverable Items for 14 days by default, 30 at most (RetainDeletedItemsFor)"},
        {"where": "tenant-hold", "until": None,
         "why": "a Litigation Hold or In-Place Hold on a mailbox keeps deleted items for as long as the hold lasts; "
                "Graph does not tell the service whether one is set"},
        {"where": "sent-mail", "until": None,
         "why": "cancellation messages already delivered to the subject and to staff are in their mailboxes"},
        {"where": "privacy-mailbox", "until": None,
         "why": "the subject's own mail to the privacy mailbox and the answers sent from it stay in its Inbox and "
                "Sent Items (then Recoverable Items): that mailbox's retention policy governs them, not this service"},
    ]
    finals = [subject["final_everywhere_at"] for subject in facts["subjects"] if subject["final_everywhere_at"]]
    if finals:
        remains.append({"where": "key-store-backups", "until": max(finals),
                        "why": "backups of the key store may hold the destroyed keys until their retention ends"})
    return remains


def _body(certificate_id: str, issued_at: str, request: RequestProjection, facts: dict[str, Any], note: str,
          proven: list[dict[str, Any]]) -> dict[str, Any]:
    finals = [subject["final_everywhere_at"] for subject in facts["subjects"] if subject["final_everywhere_at"]]
    return {
        "format": FORMAT, "certificate_id": certificate_id, "issued_at": issued_at,
        "request": {"request_id": request.request_id, "request_type": request.request_type, "regime": request.regime,
                    "channel": request.channel, "received_at": request.received_at,
                    "verification": request.verification or "none", "verified_at": request.verified_at,
                    "state": request.state, "outcome": request.outcome, "completed_at": request.completed_at,
                    "due_at": request.due_at},
        "facts": facts, "erasure_final_at": max(finals, default=None), "remains": remains_for(request, facts),
        "ledger": {"checkpoint": note, "entries": proven},
    }


def _closed_request(session: Session, request_id: str) -> RequestProjection:
    request = session.get(RequestProjection, request_id)
    if request is None:
        raise requests.RequestError(f"no request {request_id} in the ledger")
    if request.state not in ("completed", "refused"):
        raise requests.RequestError(f"request {request_id} is {request.state}; a certificate is issued once it is closed")
    return request


def _of_request(session: Session, request_id: str) -> Certificate | None:
    row = session.scalars(select(CertificateRecord).where(CertificateRecord.request_id == request_id)).first()
    return None if row is None else _plain(row)


def _require_of_request(session: Session, request_id: str) -> Certificate:
    certificate = _of_request(session, request_id)
    if certificate is None:
        raise requests.RequestError(f"request {request_id}: its certificate could not be stored")
    return certificate


def _plain(row: CertificateRecord) -> Certificate:
    return Certificate(row.certificate_id, row.request_id, row.document, row.sha256)
