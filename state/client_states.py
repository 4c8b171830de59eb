"""Subscription clientStates, kept only as keyed hashes so the web process needs no master key.

A clientState is a random secret Graph echoes in every notification. The service stores
HMAC-SHA256(CLIENT_STATE_KEY, clientState) and the receiver compares HMACs in constant time: a
database reader learns nothing it could post, and the internet-facing process holds this one
narrow key, never LEDGER_MASTER_KEY. Each hash records the id of the key it was made with, so
CLIENT_STATE_KEY can be rotated (docs/ledger.md): the old key stays in
CLIENT_STATE_PREVIOUS_KEYS until `subscribe --rotate-client-state` has replaced every secret and
the grace period of the old ones has passed.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

CLIENT_STATE_BYTES = 48   # 64 URL-safe characters: well inside Graph's 128-character limit
_DOMAIN = b"bookings-ledger client-state v1\x00"   # a hash made for anything else never matches


def new_client_state() -> str:
    """A fresh random clientState for one subscription."""
    return secrets.token_urlsafe(CLIENT_STATE_BYTES)


def generate_client_state_key() -> str:
    """A fresh CLIENT_STATE_KEY value (32 random bytes, base64)."""
    return base64.b64encode(os.urandom(32)).decode()


def key_id(key: bytes) -> str:
    """The id stored beside every hash made with `key` (not the key: a truncated SHA-256)."""
    return hashlib.sha256(b"client-state-key\x00" + key).digest()[:8].hex()


@dataclass(frozen=True)
class ClientStateKeys:
    """The current CLIENT_STATE_KEY and previous ones whose hashes are still accepted."""

    current: bytes
    previous: tuple[bytes, ...] = ()
    by_id: dict[str, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {key_id(key): key for key in (*self.previous, self.current)})

    @classmethod
    def from_settings(cls, settings: Any) -> ClientStateKeys:
        """The keys a `config.Settings` holds; SettingsError when CLIENT_STATE_KEY is missing."""
        return cls(settings.key("CLIENT_STATE_KEY"), tuple(settings.previous_client_state_keys))

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    def digest(self, client_state: str) -> bytes:
        """The hash to store for a new clientState (under the current key)."""
        return _hmac(self.current, client_state)

    def matches(self, stored: bytes, stored_key_id: str, presented: str) -> bool:
        """Whether `presented` is the clientState behind `stored`; constant time in the secret."""
        key = self.by_id.get(stored_key_id)
        if key is None:   # made with a key no longer configured: nothing can match it
            return False
        return hmac.compare_digest(stored, _hmac(key, presented))


def _hmac(key: bytes, client_state: str) -> bytes:
    return hmac.new(key, _DOMAIN + client_state.encode("utf-8"), hashlib.sha256).digest()
