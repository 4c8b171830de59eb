"""Changing ledger rows behind the triggers' back, as an attacker who owns the database could."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

GUARDED = ("ledger_entries", "checkpoints")  # the tables whose triggers refuse every change


@contextmanager
def without_triggers(engine: Engine) -> Iterator[Connection]:
    """A transaction in which the chain and the checkpoints accept any change; the triggers come back after."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            triggers = connection.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (:a, :b)"),
                {"a": GUARDED[0], "b": GUARDED[1]},
            ).all()
            for name, _sql in triggers:
                connection.execute(text(f"DROP TRIGGER {name}"))
            yield connection
            for _name, sql in triggers:
                connection.execute(text(sql))
        else:
            for table in GUARDED:
                connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            yield connection
            for table in GUARDED:
                connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


def rows(engine: Engine) -> list[tuple[int, bytes, bytes]]:
    """Every (seq, body, hash), in order."""
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text("SELECT seq, body, hash FROM ledger_entries ORDER BY seq"))]


def replace_rows(engine: Engine, new_rows: list[tuple[int, bytes, bytes]]) -> None:
    """Replace the whole table with `new_rows`, leaving the head as it was."""
    with without_triggers(engine) as connection:
        connection.execute(text("DELETE FROM ledger_entries"))
        for seq, body, digest in new_rows:
            connection.execute(
                text("INSERT INTO ledger_entries (seq, body, hash) VALUES (:seq, :body, :hash)"),
                {"seq": seq, "body": body, "hash": digest},
            )
