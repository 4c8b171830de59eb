"""`doctor` on PostgreSQL: the runtime role of DATABASE_URL must not be able to rewrite the chain or
the checkpoints; `db upgrade` as the owner makes it so, and a role that can is a FAIL naming the fix."""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

pytestmark = pytest.mark.postgres


@pytest.fixture
def roles(database_factory) -> Iterator[dict[str, str]]:
    """URLs of a fresh owner role (owning a fresh schema) and a fresh runtime role; dropped after."""
    admin_url = os.environ["TEST_DATABASE_URL"]
    admin = create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    suffix = secrets.token_hex(4)
    owner, runtime, schema = f"owner_{suffix}", f"runtime_{suffix}", f"doctor_{suffix}"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE {owner} LOGIN"))
        connection.execute(text(f"CREATE ROLE {runtime} LOGIN"))
        connection.execute(text(f"CREATE SCHEMA {schema} AUTHORIZATION {owner}"))

    def url(role: str) -> str:
        base = make_url(admin_url).set(username=role, password=None)
        return base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)

    try:
        yield {"owner": url(owner), "runtime": url(runtime)}
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            connection.execute(text(f"DROP OWNED BY {runtime}"))
            connection.execute(text(f"DROP ROLE {runtime}"))
            connection.execute(text(f"DROP ROLE {owner}"))
        admin.dispose()


@pytest.mark.parametrize("database_factory", ["postgresql"], indirect=True)
def test_an_append_only_runtime_role_passes(environment, doctor, cli, monkeypatch, roles):
    """After `db upgrade` as the owner, the runtime role may only append: ok, and exit 0."""
    monkeypatch.setenv("DATABASE_URL", roles["runtime"])
    monkeypatch.setenv("DATABASE_OWNER_URL", roles["owner"])
    assert cli("db", "upgrade")[0] == 0
    checklist = doctor()
    assert checklist.code == 0, checklist.output
    assert "may only append" in checklist.line("runtime role grants")["found"]


@pytest.mark.parametrize("database_factory", ["postgresql"], indirect=True)
def test_a_runtime_role_that_owns_the_schema_fails_with_the_fix(environment, doctor, cli, monkeypatch, roles):
    """The service running as the schema's owner could UPDATE or DELETE the evidence: FAIL, fix `db upgrade` as owner."""
    monkeypatch.setenv("DATABASE_URL", roles["owner"])
    assert cli("db", "upgrade")[0] == 0
    checklist = doctor()
    failed = checklist.failed()
    assert [line["check"] for line in failed] == ["runtime role grants"], checklist.output
    assert "UPDATE ledger_entries" in failed[0]["found"] and "DELETE checkpoints" in failed[0]["found"]
    assert "DATABASE_OWNER_URL" in failed[0]["fix"] and "bookings-ledger db upgrade" in failed[0]["fix"]
