"""Concurrent appends from several processes make one linear chain: no fork, no gap."""
from __future__ import annotations

import multiprocessing

from ledger.integrity import verify_ledger
from tampering import rows

WRITERS = 8
APPENDS_PER_WRITER = 25


def _append_many(url: str, writer: int) -> None:
    from datetime import datetime, timezone

    from sqlalchemy.orm import Session

    from database.engine import create_ledger_engine
    from ledger.entries import append_entry

    engine = create_ledger_engine(url)
    for number in range(APPENDS_PER_WRITER):
        with Session(engine) as session, session.begin():
            append_entry(session, "exported", datetime.now(timezone.utc), {"writer": writer, "number": number})
    engine.dispose()


def test_eight_writer_processes_make_one_gap_free_chain(db, database_url, clock):
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no inherited connections
    processes = [context.Process(target=_append_many, args=(database_url, writer)) for writer in range(WRITERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * WRITERS
    assert [seq for seq, _, _ in rows(db)] == list(range(1, WRITERS * APPENDS_PER_WRITER + 1))
    result = verify_ledger(db, verifier_key=None, origin=None, clock=clock)
    assert result.ok, result.message
    assert result.entries == WRITERS * APPENDS_PER_WRITER
