"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519, and tlog-checkpoint bodies.

A note is UTF-8 text ending in a newline, a blank line, then signature lines
`— <key name> <base64(key ID || signature)>`. The key ID is the first four bytes of
SHA-256(key name || 0x0A || 0x01 || public key); a verifier key is the string
`<name>+<hex key ID>+<base64(0x01 || public key)>`. A checkpoint
(https://c2sp.org/tlog-checkpoint) is a note whose text is the origin, the tree size in
decimal, the base64 root hash, and optional non-empty extension lines.

    NoteError (ValueError)
     ├── MalformedNoteError     not a well-formed note, key string or checkpoint body
     └── VerificationError      the note is not validly signed by the trusted key
          ├── UnknownKeyError   no signature line from that key (a wrong key)
          └── BadSignatureError a signature from that key does not verify (a modified note)

Pure: standard library and `cryptography` only (the auditor's verifier ships it).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = b"\x01"
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
SIGNER_PREFIX = "PRIVATE+KEY+"
# The reference implementation's cap: a note with more signature lines is refused unread.
MAX_SIGNATURES = 100


class NoteError(ValueError):
    """Base of every note, key and checkpoint error."""


class MalformedNoteError(NoteError):
    """The note, key string or checkpoint body is not well formed."""


class VerificationError(NoteError):
    """The note is not validly signed by the trusted key."""


class UnknownKeyError(VerificationError):
    """The note carries no signature from the trusted key: it was signed with another key."""


class BadSignatureError(VerificationError):
    """A signature from the trusted key fails: the note was changed after signing."""


@dataclass(frozen=True)
class Verifier:
    """A parsed verifier key: name, key ID and Ed25519 public key."""

    name: str
    key_id: bytes
    public_key: bytes


@dataclass(frozen=True)
class Checkpoint:
    """A parsed tlog-checkpoint body."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def key_id(name: str, public_key: bytes) -> bytes:
    """The four-byte key ID of an Ed25519 key under a name."""
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public_key).digest()[:4]


def verifier_key(name: str, seed: bytes) -> str:
    """The verifier key string for the Ed25519 private key with this 32-byte seed."""
    _check_name(name)
    public = _public_bytes(_private_key(seed))
    return f"{name}+{key_id(name, public).hex()}+{_b64(ED25519 + public)}"


def signer_key(name: str, seed: bytes) -> str:
    """The private signer key string (`PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`)."""
    _check_name(name)
    public = _public_bytes(_private_key(seed))
    return f"{SIGNER_PREFIX}{name}+{key_id(name, public).hex()}+{_b64(ED25519 + seed)}"


def parse_verifier_key(vkey: str) -> Verifier:
    """Parse and check a verifier key string."""
    name, key = _parse_key(vkey)
    if len(key) != 32:
        raise MalformedNoteError("an Ed25519 public key has 32 bytes")
    return Verifier(name, key_id(name, key), key)


def parse_signer_key(skey: str) -> tuple[str, bytes]:
    """Parse a signer key string into its name and 32-byte seed."""
    if not skey.startswith(SIGNER_PREFIX):
        raise MalformedNoteError(f"a signer key starts with {SIGNER_PREFIX}")
    name, seed = _parse_key(skey[len(SIGNER_PREFIX) :], seed=True)
    return name, seed


def sign_note(text: str, name: str, seed: bytes) -> str:
    """Sign a note text with the Ed25519 key of this seed; returns the signed note."""
    _check_text(text)
    _check_name(name)
    private = _private_key(seed)
    signature = key_id(name, _public_bytes(private)) + private.sign(text.encode())
    return f"{text}\n{SIGNATURE_PREFIX}{name} {_b64(signature)}\n"


def verify_note(note: str | bytes, vkey: str) -> str:
    """Verify a signed note against a verifier key string; returns its text."""
    verifier = parse_verifier_key(vkey)
    text, signatures = _split(note)
    matched = False
    for name, signature in signatures:
        if name != verifier.name or signature[:4] != verifier.key_id:
            continue  # the spec makes verifiers ignore signatures from keys they do not know
        matched = True
        try:
            Ed25519PublicKey.from_public_bytes(verifier.public_key).verify(signature[4:], text.encode())
        except InvalidSignature:
            raise BadSignatureError(f"the signature by {name} does not verify") from None
    if not matched:
        raise UnknownKeyError(f"the note is not signed by {verifier.name}+{verifier.key_id.hex()}")
    return text


def format_checkpoint(origin: str, size: int, root: bytes, extensions: tuple[str, ...] = ()) -> str:
    """The note text of a checkpoint."""
    if not origin or "\n" in origin or size < 0 or any(not line or "\n" in line for line in extensions):
        raise MalformedNoteError("a checkpoint needs a one-line origin, a size >= 0 and non-empty extension lines")
    return "".join(f"{line}\n" for line in (origin, str(size), _b64(root), *extensions))


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint's note text."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
        raise MalformedNoteError("a checkpoint is at least three non-empty lines, each ending in a newline")
    origin, size, root, *extensions = lines[:-1]
    if not size.isascii() or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise MalformedNoteError(f"tree size {size!r} is not a decimal number without leading zeros")
    return Checkpoint(origin, int(size), _unb64(root), tuple(extensions))


def sign_checkpoint(origin: str, size: int, root: bytes, seed: bytes) -> str:
    """Sign a checkpoint, using its origin as the key name (as tlog-checkpoint recommends)."""
    return sign_note(format_checkpoint(origin, size, root), origin, seed)


def verify_checkpoint(note: str | bytes, vkey: str) -> Checkpoint:
    """Verify a signed checkpoint note and parse its body."""
    return parse_checkpoint(verify_note(note, vkey))


def _split(note: str | bytes) -> tuple[str, list[tuple[str, bytes]]]:
    if isinstance(note, bytes):
        try:
            note = note.decode()
        except UnicodeDecodeError:
            raise MalformedNoteError("a note is UTF-8") from None
    _check_characters(note)
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise MalformedNoteError("a note is text, a blank line and signature lines, each ending in a newline")
    text, lines = note[: cut + 1], note[cut + 2 : -1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"more than {MAX_SIGNATURES} signatures")
    return text, [_signature_line(line) for line in lines]


def _signature_line(line: str) -> tuple[str, bytes]:
    name, _, encoded = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
    if not line.startswith(SIGNATURE_PREFIX) or not name or " " in encoded:
        raise MalformedNoteError(f"not a signature line: {line[:80]!r}")
    signature = _unb64(encoded)
    if len(signature) < 5:
        raise MalformedNoteError("a signature is a key ID and at least one byte")
    return name, signature


def _parse_key(key: str, *, seed: bool = False) -> tuple[str, bytes]:
    parts = key.split("+", 2)  # the base64 key may itself hold "+"
    if len(parts) != 3 or len(parts[1]) != 8:
        raise MalformedNoteError("a key string is <name>+<8 lowercase hex digits>+<base64 key>")
    name, hex_id, encoded = parts
    _check_name(name)
    material = _unb64(encoded)
    if material[:1] != ED25519 or len(material) != 33:
        raise MalformedNoteError("only 32-byte Ed25519 keys (type 0x01) are supported")
    public = _public_bytes(_private_key(material[1:])) if seed else material[1:]
    if key_id(name, public).hex() != hex_id:  # lowercase only: one string per key
        raise MalformedNoteError("the key ID does not match the name and key")
    return name, material[1:]


def _check_name(name: str) -> None:
    if not name or "+" in name or any(char.isspace() for char in name):
        raise MalformedNoteError(f"key name {name!r} must be non-empty, without spaces or '+'")


def _check_text(text: str) -> None:
    _check_characters(text)
    if not text.endswith("\n"):
        raise MalformedNoteError("a note text ends in a newline")


def _check_characters(text: str) -> None:
    if any(ord(char) < 0x20 and char != "\n" for char in text):
        raise MalformedNoteError("a note holds no control characters but newlines")


def _private_key(seed: bytes) -> Ed25519PrivateKey:
    if len(seed) != 32:
        raise MalformedNoteError("an Ed25519 seed has 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def _public_bytes(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes_raw()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedNoteError(f"not standard base64: {text[:60]!r}") from None
    if _b64(data) != text:
        raise MalformedNoteError("base64 is not in canonical form")
    return data
