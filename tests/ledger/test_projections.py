"""Projections follow the entries, in the same transaction."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from ledger import requests
from ledger.projections import rebuild_projections
from ledger.requests import Intake
from test_personal_data import _collect
from test_requests import RULES

PROJECTIONS = ("subjects", "records", "requests")


def _snapshot(db) -> dict[str, list]:
    with db.connect() as connection:
        return {table: connection.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2")).all() for table in PROJECTIONS}


def test_record_state_follows_its_entries(ledger):
    subject = _collect(ledger)
    with ledger.transaction() as tx:
        assert tx.record("appointment", "AAMk-1").state == "active"
        tx.append("cancelled", subject=subject, refs={"appointment": "AAMk-1", "business": "b@contoso.com"})
        assert tx.record("appointment", "AAMk-1").state == "cancelled"
        assert tx.record("business", "b@contoso.com") is None
        tx.append("anonymised", subject=subject, refs={"appointment": "AAMk-1"})
        assert tx.record("appointment", "AAMk-1").state == "anonymised"


def test_request_states(ledger, clock):
    with ledger.transaction() as tx:
        request_id = requests.receive(tx, Intake("erasure", "cli", email="ada@example.org"), RULES).request_id
    clock.advance(days=3)
    with ledger.transaction() as tx:
        request = tx.request(request_id)
        assert (request.state, request.request_type, request.completed_at) == ("awaiting-verification", "erasure", None)
        requests.verify(tx, request_id, method="officer", data_points=["email"], by="officer")
        requests.start(tx, request_id, subjects=[], by="officer")
        requests.complete(tx, request_id, outcome="done")
        assert tx.request(request_id).state == "completed"
        assert tx.request(request_id).completed_at == "2024-02-29T09:00:00.000000Z"
        assert tx.request(request_id).verification_wait_seconds == 3 * 86400


def test_a_rolled_back_transaction_leaves_neither_entry_nor_projection(ledger, db):
    with pytest.raises(RuntimeError), ledger.transaction() as tx:
        tx.append("collected", subject="s-1", refs={"appointment": "AAMk-9"})
        raise RuntimeError("crash before commit")
    assert all(rows == [] for rows in _snapshot(db).values())
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM ledger_entries")).scalar() == 0


def test_projections_rebuild_from_the_chain(ledger, db):
    subject = _collect(ledger)
    with ledger.transaction() as tx:
        requests.receive(tx, Intake("access", "cli", email="ada@example.org"), RULES)
        tx.append("cancelled", subject=subject, refs={"appointment": "AAMk-1"})
    before = _snapshot(db)
    with ledger.transaction() as tx:
        assert rebuild_projections(tx.session) == 3
    assert _snapshot(db) == before
