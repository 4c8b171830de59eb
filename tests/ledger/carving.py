"""An attacker's tools for the erasure tests: raw bytes of a database's live files, and decryption attempts.

`live_files` reads every file of a database as it lies on disk (SQLite: the .db, -wal and -shm;
PostgreSQL: every relation file of the database or schema, found under `SHOW data_directory`
after a CHECKPOINT), so a test searches what a thief of the disk or of a backup would have, not
the rows a query returns. Reading PostgreSQL's files needs the server to be local and readable:
the tests skip with a reason otherwise, except under CI=true, where they fail.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, text

from ledger import encryption

WRAPPED_KEY_SIZE = encryption.NONCE_SIZE + encryption.KEY_SIZE + 16  # nonce, key, GCM tag


def live_files(engine: Engine) -> bytes:
    """Every byte of the database's files on disk, concatenated."""
    return b"".join(path.read_bytes() for path in _files(engine))


def _files(engine: Engine) -> list[Path]:
    if engine.dialect.name == "sqlite":
        path = Path(engine.url.database)
        return [candidate for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if candidate.exists()]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("CHECKPOINT")  # every change on disk before the files are read
        data_directory = Path(connection.exec_driver_sql("SHOW data_directory").scalar())
        relations = connection.execute(text(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace"
            " AND c.relkind IN ('r', 't', 'i') AND pg_relation_filepath(c.oid) IS NOT NULL"
        )).scalars().all()
        toast = connection.execute(text(
            "SELECT pg_relation_filepath(t.oid) FROM pg_class c JOIN pg_class t ON t.oid = c.reltoastrelid"
            " WHERE c.relnamespace = current_schema()::regnamespace"
        )).scalars().all()
    if not os.access(data_directory, os.R_OK | os.X_OK):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but PostgreSQL's data directory {data_directory} is not readable: the carving tests must run")
        pytest.skip(f"PostgreSQL's data directory {data_directory} is not readable here (the server is not local, or not root)")
    files = []
    for relative in {*relations, *toast}:
        main = data_directory / relative
        files.extend(candidate for candidate in main.parent.iterdir()
                     if candidate.name == main.name or candidate.name.startswith((main.name + ".", main.name + "_")))
    return files


def unwraps_anywhere(raw: bytes, master_keys: Iterable[bytes], subject: str, categories: Iterable[str]) -> bool:
    """Whether any 60-byte window of `raw` is a wrapped data key of (subject, category) under any master key.

    An attacker who knows the format carves every offset: no row structure, no index needed.
    """
    contexts = [encryption.wrapping_context(subject, category) for category in categories]
    ciphers = [AESGCM(key) for key in master_keys]
    for offset in range(len(raw) - WRAPPED_KEY_SIZE + 1):
        window = raw[offset:offset + WRAPPED_KEY_SIZE]
        for cipher in ciphers:
            for context in contexts:
                try:
                    cipher.decrypt(window[:encryption.NONCE_SIZE], window[encryption.NONCE_SIZE:], context)
                except InvalidTag:
                    continue
                return True
    return False


def decrypts_with_any(ciphertext: bytes, context: bytes, keys: Iterable[bytes]) -> bool:
    """Whether the ciphertext authenticates under any of the candidate keys (given its true context)."""
    for key in keys:
        try:
            AESGCM(key).decrypt(ciphertext[:encryption.NONCE_SIZE], ciphertext[encryption.NONCE_SIZE:], context)
        except InvalidTag:
            continue
        return True
    return False
