"""What the database keeps of a bearer secret (a session cookie, an API token, a link): its SHA-256.

The secrets are random (128 bits and more), so an unsalted hash is enough: nothing can be guessed
from it, and a row is found by hashing what the caller presents. Compare with `hmac.compare_digest`.
"""
from __future__ import annotations

import hashlib


def token_hash(token: str) -> str:
    """The hex SHA-256 of a random token, as stored in place of the token."""
    return hashlib.sha256(token.encode()).hexdigest()
