"""PostgreSQL roles: the schema belongs to an owner; the runtime role may only append to the evidence.

`bookings-ledger db upgrade` runs the migrations as DATABASE_OWNER_URL's role, then (when the
runtime role of DATABASE_URL is another one) grants that role what the service needs and no more:

    the chain and the checkpoints (APPEND_ONLY)  SELECT, INSERT           never UPDATE, DELETE, TRUNCATE
    alembic_version                              SELECT                   (the schema gate reads it)
    every other table                            SELECT, INSERT, UPDATE, DELETE
    the schema, its sequences                    USAGE; USAGE, SELECT     (serial ids)

Only a table's owner may ALTER it, so the runtime role cannot `DISABLE TRIGGER` either. The grants
are re-applied after every upgrade, so tables added by later migrations are covered. The SQL is
`grant_statements`, also shown in docs/operations.md.
"""
from __future__ import annotations

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url

APPEND_ONLY = ("ledger_entries", "checkpoints")
READ_ONLY = ("alembic_version",)


def runtime_role(database_url: str, owner_url: str) -> str | None:
    """The role to grant to: DATABASE_URL's user when it differs from the owner's; None otherwise."""
    runtime, owner = make_url(database_url), make_url(owner_url)
    if runtime.get_backend_name() != "postgresql" or not runtime.username or runtime.username == owner.username:
        return None
    return runtime.username


def grant_statements(connection: Connection, role: str) -> list[str]:
    """The GRANT / REVOKE statements that give `role` the runtime privileges on the current schema."""
    quote = connection.dialect.identifier_preparer.quote
    schema = quote(connection.exec_driver_sql("SELECT current_schema()").scalar_one())
    grantee = quote(role)
    # Revoke first: a role that once had more (an earlier, looser setup) keeps nothing extra.
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {grantee}",
        f"GRANT USAGE ON SCHEMA {schema} TO {grantee}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {grantee}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {grantee}",
    ]
    def listed(names: tuple[str, ...]) -> str:
        return ", ".join(f"{schema}.{quote(name)}" for name in names)

    statements.append(f"REVOKE UPDATE, DELETE ON {listed(APPEND_ONLY)} FROM {grantee}")
    statements.append(f"REVOKE INSERT, UPDATE, DELETE ON {listed(READ_ONLY)} FROM {grantee}")
    return statements


def grant_runtime_role(owner_engine: Engine, role: str) -> None:
    """Apply `grant_statements` for `role`, as the owner, in one transaction."""
    with owner_engine.begin() as connection:
        for statement in grant_statements(connection, role):
            connection.exec_driver_sql(statement)
