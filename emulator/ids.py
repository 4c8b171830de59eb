"""Identifier factory: Exchange-style item ids and GUIDs, reproducible from a seed."""

from __future__ import annotations

import base64
import random
import threading
import uuid


class IdFactory:
    """Makes ids; with a seed the sequence of ids is the same on every run."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def exchange_id(self) -> str:
        """An id shaped like an Exchange item id (``AAMkAD…=``), as Bookings appointments have."""
        with self._lock:
            raw = self._rng.randbytes(32)
        # Exchange ids are base64 with '/' and '+' swapped for URL-safe characters, '=' kept.
        return "AAMkAD" + base64.urlsafe_b64encode(raw).decode()[:-1] + "="

    def guid(self) -> str:
        """A random (version 4) GUID."""
        with self._lock:
            bits = self._rng.getrandbits(128)
        return str(uuid.UUID(int=bits, version=4))

    def token(self, length: int = 24) -> str:
        """An opaque URL-safe token (change keys, secrets)."""
        with self._lock:
            raw = self._rng.randbytes(length)
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
