"""What erasing a data subject does to the working state, which the ledger cannot see.

`erase_working_state` is the ledger's `WorkingStateEraser` (bookings_ledger/wiring.py passes it
to every Ledger it builds): in the transaction of the erasure's last step (ledger/erasure.py) the
Bookings mirror's rows of the subject lose their times, digests, version stamps and subject links
and are marked `erased`, its retention due dates and the notes of its officer alerts go, and the
mirror's Graph ids become the erasure's tombstones. Why a function handed to the ledger and not a
call after it: a crash between the two would leave the mirror linking an erased subject to its
appointments' times; inside the last step, a resumed erasure (`Ledger.finish_erasures`) runs it too.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from ledger.entries import lock_head
from state import bookings_mirror, exports, officer_alerts, retention_dues


def erase_working_state(session: Session, subject_ref: str, now: str) -> list[tuple[str, str]]:
    """Reduce the subject's mirror rows to ids and `erased`, forget its due dates, expire the export
    archives holding its data; the ids to tombstone."""
    # Taken first, as ingestion does: no worker writes the subject's rows while they are erased.
    lock_head(session)
    erased = bookings_mirror.erase_subject_rows(session, subject_ref, now)
    retention_dues.forget_subject(session, subject_ref)
    officer_alerts.forget_notes(session, subject_ref)
    exports.expire_covering(session, subject_ref, now)
    return erased.tombstones()
