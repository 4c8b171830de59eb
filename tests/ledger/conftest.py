"""Fixtures of the ledger tests: keys, a Ledger on each backend, the CLI against that database."""
from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ledger.checkpoint_store import CheckpointSigner
from ledger.core.signed_notes import verifier_key
from ledger.encryption import MasterKeys
from ledger.keystore import SqlKeyStore, open_keystore
from ledger.transactions import Ledger, LedgerKeys

ORIGIN = "test.example/ledger"


@dataclass(frozen=True)
class KeySet:
    """Raw key material of one test, and its settings form."""

    master: bytes
    blind: bytes
    signing: bytes

    def settings(self) -> dict[str, str]:
        return {
            "LEDGER_MASTER_KEY": _b64(self.master),
            "BLIND_INDEX_KEY": _b64(self.blind),
            "CHECKPOINT_SIGNING_KEY": _b64(self.signing),
            "CHECKPOINT_VERIFIER_KEY": verifier_key(ORIGIN, self.signing),
            "CHECKPOINT_ORIGIN": ORIGIN,
            "DEFAULT_PHONE_REGION": "GB",
        }


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture
def key_set() -> KeySet:
    """Fresh random keys."""
    return KeySet(os.urandom(32), os.urandom(32), os.urandom(32))


@pytest.fixture
def ledger_keys(key_set: KeySet) -> LedgerKeys:
    """The ledger's keys (phone region GB)."""
    return LedgerKeys(MasterKeys(key_set.master), key_set.blind, "GB")


@pytest.fixture
def signer(key_set: KeySet) -> CheckpointSigner:
    """The checkpoint signer of this test."""
    return CheckpointSigner(ORIGIN, key_set.signing)


@pytest.fixture
def keystore(keystore_url: str, ledger_keys: LedgerKeys, clock: Callable) -> Iterator[SqlKeyStore]:
    """The key store of this test, in a database of its own, under the test's master key."""
    store = open_keystore(keystore_url, ledger_keys.master, clock=clock)
    yield store
    store.close()


@pytest.fixture
def ledger(db: Engine, ledger_keys: LedgerKeys, keystore: SqlKeyStore, clock: Callable) -> Ledger:
    """A Ledger on a fresh migrated database of each backend, its key store apart."""
    return Ledger(db, ledger_keys, clock, keystore=keystore)


@pytest.fixture
def cli(
    database_url: str, keystore_url: str, key_set: KeySet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str]]:
    """Run `bookings-ledger ARGS` against this test's database; returns (exit code, stdout + stderr)."""
    from bookings_ledger.cli import main

    settings = {**key_set.settings(), "DATABASE_URL": database_url, "KEYSTORE_URL": keystore_url,
                "CHECKPOINT_DIR": str(tmp_path / "checkpoints")}
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LEDGER_PREVIOUS_MASTER_KEYS", raising=False)

    def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run
