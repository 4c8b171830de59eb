"""Guards on the chain and the checkpoints: REPLACE refused on SQLite, the checkpoints append-only.

SQLite resolves `INSERT OR REPLACE` / `REPLACE INTO` by deleting the conflicting row without
firing its DELETE triggers (recursive triggers are off), so the UPDATE/DELETE triggers of 0001
let a replace rewrite an entry. A BEFORE INSERT trigger runs before conflict resolution: aborting
when the key already exists refuses the replace and leaves every plain append alone. The
checkpoints get the same guard plus the UPDATE and DELETE triggers the chain has had since 0001
(and on PostgreSQL a row and a TRUNCATE trigger). Who may bypass them (the owner role alone, on
PostgreSQL) is settled by the grants of `bookings-ledger db upgrade` (database/roles.py).

Revision ID: 0010_chain_guards
Revises: 0009_reindex_identifiers
"""
from __future__ import annotations

from alembic import op

revision = "0010_chain_guards"
down_revision = "0009_reindex_identifiers"
branch_labels = None
depends_on = None

# table -> its primary key column (what a REPLACE would collide on)
GUARDED = {"ledger_entries": "seq", "checkpoints": "id"}


def _sqlite_statements() -> list[str]:
    statements = [
        f"CREATE TRIGGER {table}_refuse_replace BEFORE INSERT ON {table} "
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {key} = NEW.{key}) "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only (REPLACE refused)'); END"
        for table, key in GUARDED.items()
    ]
    return statements + [
        f"CREATE TRIGGER checkpoints_refuse_{action.lower()} BEFORE {action} ON checkpoints "
        "BEGIN SELECT RAISE(ABORT, 'checkpoints is append-only'); END"
        for action in ("UPDATE", "DELETE")
    ]


POSTGRESQL_STATEMENTS = [
    """CREATE FUNCTION checkpoints_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'checkpoints is append-only (% refused)', TG_OP; END $$""",
    "CREATE TRIGGER checkpoints_refuse_change BEFORE UPDATE OR DELETE ON checkpoints "
    "FOR EACH ROW EXECUTE FUNCTION checkpoints_refuse_change()",
    "CREATE TRIGGER checkpoints_refuse_truncate BEFORE TRUNCATE ON checkpoints "
    "FOR EACH STATEMENT EXECUTE FUNCTION checkpoints_refuse_change()",
]


def upgrade() -> None:
    # PostgreSQL has no REPLACE: INSERT ... ON CONFLICT DO UPDATE fires the UPDATE triggers.
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _sqlite_statements() if sqlite else POSTGRESQL_STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        names = [f"{table}_refuse_replace" for table in GUARDED] + ["checkpoints_refuse_update", "checkpoints_refuse_delete"]
        for name in names:
            op.execute(f"DROP TRIGGER {name}")
        return
    op.execute("DROP TRIGGER checkpoints_refuse_truncate ON checkpoints")
    op.execute("DROP TRIGGER checkpoints_refuse_change ON checkpoints")
    op.execute("DROP FUNCTION checkpoints_refuse_change()")
