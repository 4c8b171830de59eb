"""Tombstones by Graph object id: erased appointments and customers can never be ingested again."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ledger.models import Tombstone


def add_tombstone(session: Session, object_type: str, object_id: str, tombstoned_at: str) -> None:
    """Record that this Graph object was erased; adding it twice keeps the first time."""
    if session.get(Tombstone, (object_type, object_id)) is None:
        session.add(Tombstone(object_type=object_type, object_id=object_id, tombstoned_at=tombstoned_at))
        session.flush()


def is_tombstoned(session: Session, object_type: str, object_id: str) -> bool:
    """Whether this Graph object was erased (a late or replayed notification must be dropped)."""
    return session.get(Tombstone, (object_type, object_id)) is not None
