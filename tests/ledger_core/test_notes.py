"""C2SP signed notes and tlog-checkpoint bodies."""
from __future__ import annotations

import pytest

from ledger.core import signed_notes
from ledger.core.signed_notes import (
    BadSignatureError,
    MalformedNoteError,
    UnknownKeyError,
    format_checkpoint,
    parse_checkpoint,
    sign_note,
    verify_checkpoint,
    verify_note,
)

from .factories import ORIGIN, OTHER_VKEY, SEED, VKEY

# The example key and note of the Go reference implementation (golang.org/x/mod/sumdb/note).
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"


def test_reference_key_and_note_are_reproduced_byte_for_byte() -> None:
    """Keys, key ID and the Ed25519 signature match the Go reference example exactly."""
    name, seed = signed_notes.parse_signer_key(GO_SKEY)
    assert signed_notes.verifier_key(name, seed) == GO_VKEY
    assert signed_notes.signer_key(name, seed) == GO_SKEY
    assert sign_note(GO_TEXT, name, seed) == GO_NOTE
    assert verify_note(GO_NOTE.encode(), GO_VKEY) == GO_TEXT


def test_unknown_signatures_are_ignored_but_one_trusted_signature_is_needed() -> None:
    """Extra signatures from other keys do not matter; a note without ours is a wrong key."""
    note = sign_note(GO_TEXT, ORIGIN, SEED)
    cosigned = note + GO_NOTE.split("\n\n")[1]
    assert verify_note(cosigned, VKEY) == GO_TEXT
    assert verify_note(cosigned, GO_VKEY) == GO_TEXT
    with pytest.raises(UnknownKeyError):
        verify_note(note, OTHER_VKEY)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda note: note.replace("problem,", "problem;"),
        lambda note: note.replace("SffcvIAQ", "SffcvIAR"),
    ],
    ids=["text", "signature"],
)
def test_a_modified_note_is_rejected(tamper) -> None:  # noqa: ANN001
    """Changing the text or the signature after signing fails verification."""
    with pytest.raises(BadSignatureError):
        verify_note(tamper(GO_NOTE), GO_VKEY)


@pytest.mark.parametrize(
    "note",
    [
        "",
        GO_TEXT,  # no signatures
        GO_TEXT + "\n",  # a blank line but no signature line
        GO_NOTE.replace("\u2014", "--"),
        GO_NOTE.replace("=\n", "\n"),  # non-canonical base64
        GO_NOTE.replace("x08go/ZJ", "x08go/Z!"),
        GO_NOTE.rstrip("\n"),
        GO_NOTE.replace("problem,", "problem,\t"),
        GO_TEXT + "\n\u2014 PeterNeumann AAAA\n",  # too short to hold a key ID and signature
        GO_TEXT + "\n" + "\u2014 a AAAAAAA=\n" * 101,
    ],
    ids=["empty", "unsigned", "blank", "dash", "padding", "base64", "no-newline", "control", "short", "too-many"],
)
def test_malformed_notes_are_refused(note: str) -> None:
    """Anything that is not a well-formed signed note is refused before any signature check."""
    with pytest.raises(MalformedNoteError):
        verify_note(note, GO_VKEY)


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key ID
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # unknown algorithm
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3",
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    """A verifier key string must be exact: name, matching key ID, Ed25519 key."""
    with pytest.raises(MalformedNoteError):
        signed_notes.parse_verifier_key(vkey)


def test_checkpoint_body_round_trips() -> None:
    """A checkpoint body is origin, size and base64 root, plus extension lines."""
    root = bytes(range(32))
    text = format_checkpoint(ORIGIN, 1234, root, ("ext one",))
    assert text == f"{ORIGIN}\n1234\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\next one\n"
    assert parse_checkpoint(text) == signed_notes.Checkpoint(ORIGIN, 1234, root, ("ext one",))
    assert verify_checkpoint(signed_notes.sign_checkpoint(ORIGIN, 0, root, SEED), VKEY).size == 0


@pytest.mark.parametrize(
    "text",
    [
        f"{ORIGIN}\n12\n",
        f"{ORIGIN}\n012\nAAAA\n",
        f"{ORIGIN}\n-1\nAAAA\n",
        f"{ORIGIN}\n1\nAAAA\n\n",
        f"{ORIGIN}\n1\nAAAA",
        f"{ORIGIN}\n\u0661\nAAAA\n",  # a non-ASCII digit
        f"\n1\nAAAA\n",
    ],
)
def test_malformed_checkpoint_bodies_are_refused(text: str) -> None:
    """Sizes are plain decimal without leading zeros; lines are non-empty and newline-ended."""
    with pytest.raises(MalformedNoteError):
        parse_checkpoint(text)
