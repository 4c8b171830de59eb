"""Which data subjects a request covers: those the requester's email or phone number finds.

The requester's contact was collected under a subject of its own (ledger/requests.py), blind-
indexed like every email and phone number the service holds, so the subjects sharing one of its
digests are the same person in every business, found without decrypting anything. Other
requests' contact subjects are left out: they are the records of those requests, kept for their
own period, and an erasure must not take them (an access export reaches them itself).
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.models import BlindIndex, RequestProjection, SubjectProjection


def subjects_for(session: Session, requester: str) -> list[str]:
    """The subjects, other than request contacts, sharing an email or phone digest with `requester`."""
    digests = select(BlindIndex.kind, BlindIndex.digest).where(BlindIndex.subject_ref == requester)
    pairs = [(row.kind, row.digest) for row in session.execute(digests)]
    if not pairs:
        return []
    found = set()
    for kind, digest in pairs:
        found |= set(session.scalars(select(BlindIndex.subject_ref).where(BlindIndex.kind == kind,
                                                                          BlindIndex.digest == digest)))
    contacts = set(session.scalars(select(RequestProjection.requester_ref).where(
        RequestProjection.requester_ref.in_(found))))
    live = set(session.scalars(select(SubjectProjection.subject_ref).where(
        SubjectProjection.subject_ref.in_(found - contacts), SubjectProjection.status != "erased")))
    return sorted(live)
