"""Property: any single change to the rows behind the triggers' back makes `verify` fail and name
the first bad sequence number; forged, equivocating or outrun checkpoints make it fail too."""
from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from ledger.core.canonical import canonical_bytes, entry_hash
from ledger.checkpoint_store import create_checkpoint
from database.engine import create_ledger_engine, upgrade
from ledger.entries import append_entry
from ledger.core import signed_notes
from tampering import replace_rows, rows, without_triggers

PROPERTY_SETTINGS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@dataclass(frozen=True)
class Tamper:
    """One change to a chain of `size` rows, and the seq verify must name."""

    action: str
    position: int
    other: int = 0


@st.composite
def ledgers_and_tampers(draw: st.DrawFn) -> tuple[int, Tamper]:
    size = draw(st.integers(2, 10))
    action = draw(st.sampled_from(["body", "hash", "delete", "insert-random", "insert-chained", "swap"]))
    if action in ("insert-random", "insert-chained"):
        return size, Tamper(action, draw(st.integers(1, size + 1)))
    if action == "swap":
        first = draw(st.integers(1, size - 1))
        return size, Tamper(action, first, draw(st.integers(first + 1, size)))
    return size, Tamper(action, draw(st.integers(1, size)))


def _fresh_ledger(database_factory, clock, size: int, monkeypatch) -> tuple[object, str]:
    url = database_factory.new_url()
    engine = create_ledger_engine(url)
    upgrade(engine)
    with Session(engine) as session, session.begin():
        for number in range(size):
            append_entry(session, "exported", clock(), {"number": number})
    monkeypatch.setenv("DATABASE_URL", url)
    return engine, url


def _apply(tamper: Tamper, stored: list[tuple[int, bytes, bytes]]) -> list[tuple[int, bytes, bytes]]:
    k = tamper.position
    index = k - 1
    if tamper.action == "body":
        stored[index] = (k, stored[index][1] + b" ", stored[index][2])
    elif tamper.action == "hash":
        stored[index] = (k, stored[index][1], bytes(32))
    elif tamper.action == "delete":
        del stored[index]
    elif tamper.action == "swap":
        j = tamper.other - 1
        stored[index], stored[j] = (k, *stored[j][1:]), (tamper.other, *stored[index][1:])
    else:
        body = canonical_bytes({"v": 1, "seq": k, "time": "2024-01-01T00:00:00.000000Z", "kind": "exported"})
        previous = stored[index - 1][2] if index else bytes(32)
        forged = entry_hash(previous, body) if tamper.action == "insert-chained" else os.urandom(32)
        stored = stored[:index] + [(k, body, forged)] + [(seq + 1, body_, hash_) for seq, body_, hash_ in stored[index:]]
    return stored


@PROPERTY_SETTINGS
@given(case=ledgers_and_tampers())
def test_any_single_row_change_is_named_by_verify(case, cli, database_factory, clock, monkeypatch):
    size, tamper = case
    engine, _url = _fresh_ledger(database_factory, clock, size, monkeypatch)
    replace_rows(engine, _apply(tamper, rows(engine)))
    engine.dispose()
    code, output = cli("verify")
    assert code == 1, output
    assert f"first bad seq {tamper.position}:" in output


@st.composite
def checkpoint_attacks(draw: st.DrawFn) -> tuple[int, int, str, int]:
    size = draw(st.integers(1, 8))
    checkpoint_size = draw(st.integers(1, size))
    attack = draw(st.sampled_from(["wrong-key", "equivocation", "truncated"]))
    return size, checkpoint_size, attack, draw(st.integers(0, checkpoint_size - 1))


@PROPERTY_SETTINGS
@given(case=checkpoint_attacks())
def test_forged_equivocating_or_outrun_checkpoints_fail_verify(case, cli, database_factory, clock, signer, monkeypatch):
    size, checkpoint_size, attack, keep = case
    engine, _url = _fresh_ledger(database_factory, clock, checkpoint_size, monkeypatch)
    with Session(engine) as session, session.begin():
        create_checkpoint(session, signer, clock())
        for number in range(size - checkpoint_size):
            append_entry(session, "exported", clock(), {"number": number})
    with without_triggers(engine) as connection:
        _attack(connection, attack, signer, checkpoint_size, keep)
    engine.dispose()
    code, output = cli("verify")
    assert code == 1, output
    if attack == "truncated":
        assert f"first bad seq {keep + 1}" in output


def _attack(connection, attack: str, signer, checkpoint_size: int, keep: int) -> None:
    if attack == "wrong-key":
        note = signed_notes.sign_note(signed_notes.format_checkpoint(signer.origin, checkpoint_size, b"\x00" * 32), signer.origin, b"\x06" * 32)
        connection.execute(text("UPDATE checkpoints SET note = :note, root = :root"), {"note": note, "root": b"\x00" * 32})
    elif attack == "equivocation":
        root = os.urandom(32)
        note = signed_notes.sign_note(signed_notes.format_checkpoint(signer.origin, checkpoint_size, root), signer.origin, signer.seed)
        connection.execute(
            text("INSERT INTO checkpoints (size, root, note, created_at) VALUES (:size, :root, :note, 'x')"),
            {"size": checkpoint_size, "root": root, "note": note},
        )
    else:  # the log cut back below the checkpoint, head and all: only the checkpoint can tell
        last = connection.execute(text("SELECT hash FROM ledger_entries WHERE seq = :k"), {"k": keep}).scalar() or bytes(32)
        connection.execute(text("DELETE FROM ledger_entries WHERE seq > :k"), {"k": keep})
        connection.execute(text("UPDATE ledger_head SET seq = :k, hash = :h"), {"k": keep, "h": last})
