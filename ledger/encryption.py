"""Envelope encryption of personal data: AES-256-GCM under data keys per subject and data category.

A data key is random and stored only wrapped (AES-256-GCM) by a master key, in the key store
(ledger/keystore.py), bound to its subject and category; the key id
recorded beside it is the first 8 bytes of SHA-256 of that master key, in hex. Each field's
ciphertext is bound to its row by associated data (subject, row id, field, category, purpose),
so a ciphertext copied to another row, field or subject does not decrypt. Stored format of
both wrapped keys and ciphertexts: 12-byte random nonce || AES-GCM ciphertext and tag.

Errors name row ids and key ids only, never plaintext.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_SIZE = 32
NONCE_SIZE = 12


class VaultError(Exception):
    """A key or ciphertext could not be used; the message names ids, never data."""


def key_id(master_key: bytes) -> str:
    """The id recorded with every data key wrapped by `master_key`."""
    return hashlib.sha256(master_key).digest()[:8].hex()


@dataclass(frozen=True)
class MasterKeys:
    """The current master key and the previous ones still accepted for unwrapping."""

    current: bytes
    previous: tuple[bytes, ...] = ()
    by_id: dict[str, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = {key_id(key): key for key in (*self.previous, self.current)}
        object.__setattr__(self, "by_id", keys)

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    def get(self, wanted_id: str) -> bytes:
        """The master key with this id, or VaultError when it is not configured."""
        try:
            return self.by_id[wanted_id]
        except KeyError:
            raise VaultError(f"master key {wanted_id} is not configured (LEDGER_PREVIOUS_MASTER_KEYS?)") from None


def new_data_key() -> bytes:
    """A fresh random AES-256 data key."""
    return AESGCM.generate_key(bit_length=KEY_SIZE * 8)


def wrap_data_key(master_key: bytes, data_key: bytes, subject_ref: str, category: str) -> bytes:
    """The data key encrypted under the master key, bound to its subject and category."""
    return _seal(master_key, data_key, wrapping_context(subject_ref, category))


def unwrap_data_key(master_key: bytes, wrapped: bytes, subject_ref: str, category: str) -> bytes:
    """The data key of (`subject_ref`, `category`); VaultError if the wrong master key, subject or category is used."""
    try:
        return _open(master_key, wrapped, wrapping_context(subject_ref, category))
    except InvalidTag:
        raise VaultError(f"cannot unwrap the {category} data key of subject {subject_ref}") from None


def unwrap_subject_key(master_key: bytes, wrapped: bytes, subject_ref: str) -> bytes:
    """A per-subject data key of the schema before 0007 (no category), for the key-store migration."""
    try:
        return _open(master_key, wrapped, json.dumps(["data_key", subject_ref]).encode())
    except InvalidTag:
        raise VaultError(f"cannot unwrap the pre-0007 data key of subject {subject_ref}") from None


def field_context(subject_ref: str, row_id: str, field_name: str, category: str, purpose: str) -> bytes:
    """The associated data binding one personal_data ciphertext to its row."""
    return json.dumps(["personal_data", subject_ref, row_id, field_name, category, purpose]).encode()


def encrypt_value(data_key: bytes, plaintext: str, context: bytes) -> bytes:
    """AES-256-GCM of a value under a data key, bound to `context`."""
    return _seal(data_key, plaintext.encode("utf-8"), context)


def decrypt_value(data_key: bytes, ciphertext: bytes, context: bytes, *, row_id: str) -> str:
    """The value of one personal_data row; VaultError (naming the row) if it does not authenticate."""
    try:
        return _open(data_key, ciphertext, context).decode("utf-8")
    except InvalidTag:
        raise VaultError(f"personal_data row {row_id} does not decrypt under its subject's key and context") from None


def wrapping_context(subject_ref: str, category: str) -> bytes:
    """The associated data binding a wrapped data key to its subject and category."""
    return json.dumps(["data_key", subject_ref, category]).encode()


def _seal(key: bytes, plaintext: bytes, context: bytes) -> bytes:
    nonce = os.urandom(NONCE_SIZE)  # random 96-bit nonces: far below the 2^32 messages-per-key limit
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def _open(key: bytes, sealed: bytes, context: bytes) -> bytes:
    return AESGCM(key).decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], context)
