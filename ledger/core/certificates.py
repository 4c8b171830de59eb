"""Certificates of completed data-subject requests: their exact form, and the offline verifier.

A certificate file is one JSON object of exactly two members:

    {"certificate": {<the body>}, "signature": "<key name> <base64(key ID || Ed25519 signature)>"}

The signature is a C2SP signed-note signature (signed_notes.py) over the text

    bookings-ledger certificate v1\\n<the body's canonical JSON (canonical.canonical_json)>\\n

so the same verifier key that checks the ledger's checkpoints checks certificates, and neither
can pass for the other: a checkpoint's second line is a tree size, a certificate's first line is
this header. The body states the request, the facts of carrying it out (what each surface held
and what was done, Graph's evidence, the erasure's final moments, what was kept and why), what may
remain outside the service's reach, and `ledger`: a checkpoint note signed for the certificate
and, for every seq the facts cite, the entry itself, the hash before it and its inclusion proof.
`verify_certificate` needs the verifier key alone and checks, in order:

    MALFORMED       JSON with duplicate keys, a member too many or missing, a value of the wrong type
    SIGNATURE       the body is not signed by the key (a forged or altered certificate, another key)
    CHECKPOINT      the checkpoint note is not signed by the key, or does not cover every cited seq
    PROOF           an entry's hash, chained from the hash before it, is not in the signed tree
    FACTS           the facts cite other seqs than the entries given, or an entry says otherwise

    CertificateError (ValueError)    `.reason` is one of the five above

Pure: standard library, `cryptography` and the sibling modules (the auditor's verifier ships it).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .canonical import MEMBER_RULES, CanonicalError, canonical_bytes, canonical_json, entry_hash, loads_strict
from .merkle import ProofError, leaf_hash, verify_inclusion
from .signed_notes import (
    SIGNATURE_PREFIX, Checkpoint, NoteError, UnknownKeyError, sign_note, verify_checkpoint, verify_note,
)

HEADER = "bookings-ledger certificate v1"
FORMAT = 1
MALFORMED, SIGNATURE, CHECKPOINT, PROOF, FACTS = "malformed", "signature", "checkpoint", "proof", "facts"
HEX_HASH = re.compile(r"[0-9a-f]{64}")


class CertificateError(ValueError):
    """The certificate does not verify; `reason` names which check failed."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class VerifiedCertificate:
    """A certificate that verified: its body and the checkpoint its proofs lead to."""

    body: dict[str, Any]
    checkpoint: Checkpoint

    @property
    def certificate_id(self) -> str:
        return self.body["certificate_id"]


def signed_text(body: Mapping[str, Any]) -> str:
    """The note text a certificate's signature covers."""
    return f"{HEADER}\n{canonical_json(dict(body)).decode('utf-8')}\n"


def sign_certificate(body: Mapping[str, Any], name: str, seed: bytes) -> dict[str, Any]:
    """The certificate document: the body and its signature under the Ed25519 key of `seed`."""
    note = sign_note(signed_text(body), name, seed)
    line = note.rsplit("\n", 2)[-2]
    return {"certificate": dict(body), "signature": line.removeprefix(SIGNATURE_PREFIX)}


def verify_certificate(document: str | bytes, vkey: str) -> VerifiedCertificate:
    """Check a certificate file's text against the verifier key; CertificateError naming the first failure."""
    body, signature = _parse(document)
    _check_signature(body, signature, vkey)
    checkpoint = _check_checkpoint(body["ledger"]["checkpoint"], vkey)
    entries = {record["seq"]: _proven_entry(record, checkpoint) for record in body["ledger"]["entries"]}
    _check_facts(body, entries)
    return VerifiedCertificate(body, checkpoint)


# -- the form: every member named, typed, and nothing else ------------------------------------

Rule = Callable[[Any, str], None]


def _string(value: Any, where: str) -> None:
    if not isinstance(value, str) or not value:
        raise CertificateError(MALFORMED, f"{where} must be a non-empty string")


def _optional(rule: Rule) -> Rule:
    def check(value: Any, where: str) -> None:
        if value is not None:
            rule(value, where)
    return check


def _integer(value: Any, where: str) -> None:
    if type(value) is not int or value < 0:
        raise CertificateError(MALFORMED, f"{where} must be an integer >= 0")


def _time(value: Any, where: str) -> None:
    meaning, rule = MEMBER_RULES["time"]
    if not rule(value):
        raise CertificateError(MALFORMED, f"{where} must be {meaning}")


def _hex_hash(value: Any, where: str) -> None:
    if not isinstance(value, str) or not HEX_HASH.fullmatch(value):
        raise CertificateError(MALFORMED, f"{where} must be 64 lowercase hex digits")


def _object(members: Mapping[str, Rule]) -> Rule:
    def check(value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise CertificateError(MALFORMED, f"{where} must be an object")
        extra, missing = sorted(set(value) - set(members)), sorted(set(members) - set(value))
        if extra or missing:
            raise CertificateError(MALFORMED, f"{where}: unexpected {extra} / missing {missing}")
        for name, rule in members.items():
            rule(value[name], f"{where}.{name}")
    return check


def _list(rule: Rule) -> Rule:
    def check(value: Any, where: str) -> None:
        if not isinstance(value, list):
            raise CertificateError(MALFORMED, f"{where} must be a list")
        for index, item in enumerate(value):
            rule(item, f"{where}[{index}]")
    return check


def _any_object(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise CertificateError(MALFORMED, f"{where} must be an object")


def _counts(value: Any, where: str) -> None:
    _any_object(value, where)
    for name, count in value.items():
        _integer(count, f"{where}.{name}")


_TEXT, _MAYBE_TEXT, _MAYBE_INT, _MAYBE_TIME = _string, _optional(_string), _optional(_integer), _optional(_time)
_GRAPH = _object({"request_id": _MAYBE_TEXT, "status": _MAYBE_INT})
_SURFACE = _object({"surface": _TEXT, "action": _TEXT, "business": _MAYBE_TEXT, "object_id": _MAYBE_TEXT,
                    "graph": _list(_GRAPH), "seqs": _list(_integer), "detail": _MAYBE_TEXT})
_SUBJECT = _object({"subject": _TEXT, "surfaces": _list(_SURFACE), "erased_seq": _MAYBE_INT,
                    "key_destroyed_seq": _MAYBE_INT, "keys_destroyed_at": _MAYBE_TIME,
                    "final_everywhere_at": _MAYBE_TIME})
_KEPT = _object({"subject": _TEXT, "surface": _TEXT, "object_id": _MAYBE_TEXT, "reason": _TEXT,
                 "holds": _list(_string)})
# jobs/requests/facts.py's CertificateFacts.as_dict(), member for member.
_FACTS = _object({"request_id": _TEXT, "request_type": _TEXT, "outcome": _TEXT, "subjects": _list(_SUBJECT),
                  "kept": _list(_KEPT), "started_seq": _MAYBE_INT, "completed_seq": _MAYBE_INT,
                  "export_id": _MAYBE_TEXT, "exported_seq": _MAYBE_INT, "counts": _counts, "seqs": _list(_integer)})
_REQUEST = _object({"request_id": _TEXT, "request_type": _TEXT, "regime": _TEXT, "channel": _TEXT,
                    "received_at": _time, "verification": _TEXT, "verified_at": _MAYBE_TIME, "state": _TEXT,
                    "outcome": _MAYBE_TEXT, "completed_at": _MAYBE_TIME, "due_at": _MAYBE_TIME})
_REMAINS = _object({"where": _TEXT, "until": _MAYBE_TIME, "why": _TEXT})
_ENTRY = _object({"seq": _integer, "previous_hash": _hex_hash, "entry": _any_object, "proof": _list(_hex_hash)})
_BODY = _object({"format": _integer, "certificate_id": _TEXT, "issued_at": _time, "request": _REQUEST,
                 "facts": _FACTS, "erasure_final_at": _MAYBE_TIME, "remains": _list(_REMAINS),
                 "ledger": _object({"checkpoint": _TEXT, "entries": _list(_ENTRY)})})


def _parse(document: str | bytes) -> tuple[dict[str, Any], str]:
    try:
        parsed = loads_strict(document)
    except CanonicalError as exc:
        raise CertificateError(MALFORMED, str(exc)) from None
    _object({"certificate": _any_object, "signature": _string})(parsed, "the file")
    body = parsed["certificate"]
    _BODY(body, "certificate")
    if body["format"] != FORMAT:
        raise CertificateError(MALFORMED, f"certificate format {body['format']} is not {FORMAT}")
    return body, parsed["signature"]


# -- the checks --------------------------------------------------------------------------------

def _check_signature(body: dict[str, Any], signature: str, vkey: str) -> None:
    try:
        text = signed_text(body)
    except CanonicalError as exc:
        raise CertificateError(MALFORMED, f"the body has no canonical form: {exc}") from None
    try:
        verify_note(f"{text}\n{SIGNATURE_PREFIX}{signature}\n", vkey)
    except UnknownKeyError as exc:
        raise CertificateError(SIGNATURE, f"not signed by the verifier key ({exc})") from None
    except NoteError as exc:
        raise CertificateError(SIGNATURE, f"the signature does not verify: {exc}") from None


def _check_checkpoint(note: str, vkey: str) -> Checkpoint:
    try:
        return verify_checkpoint(note, vkey)
    except NoteError as exc:
        raise CertificateError(CHECKPOINT, f"the checkpoint is not one the key signed: {exc}") from None


def _proven_entry(record: dict[str, Any], checkpoint: Checkpoint) -> dict[str, Any]:
    seq, entry = record["seq"], record["entry"]
    try:
        body = canonical_bytes(entry)
    except CanonicalError as exc:
        raise CertificateError(MALFORMED, f"entry {seq} has no canonical form: {exc}") from None
    if entry["seq"] != seq:
        raise CertificateError(PROOF, f"the record of seq {seq} holds the entry of seq {entry['seq']}")
    if not 1 <= seq <= checkpoint.size:
        raise CertificateError(CHECKPOINT, f"entry {seq} is outside the checkpoint of size {checkpoint.size}")
    digest = entry_hash(bytes.fromhex(record["previous_hash"]), body)
    try:
        verify_inclusion(seq - 1, checkpoint.size, leaf_hash(digest), [bytes.fromhex(node) for node in record["proof"]],
                         checkpoint.root)
    except ProofError as exc:
        raise CertificateError(PROOF, f"entry {seq} is not in the signed tree: {exc}") from None
    return entry


def _check_facts(body: dict[str, Any], entries: dict[int, dict[str, Any]]) -> None:
    facts, request = body["facts"], body["request"]
    cited = _cited_seqs(facts)
    if facts["seqs"] != sorted(cited) or len(entries) != len(body["ledger"]["entries"]) or set(entries) != cited:
        raise CertificateError(FACTS, f"the facts cite seqs {sorted(cited)}; the certificate proves {sorted(entries)}")
    for name in ("request_id", "request_type"):
        if facts[name] != request[name]:
            raise CertificateError(FACTS, f"the facts' {name} is not the request's")
    request_id = request["request_id"]
    _expect(entries, facts["started_seq"], "request-started", refs={"request": request_id})
    if (facts["exported_seq"] is None) != (facts["export_id"] is None):
        raise CertificateError(FACTS, "an export is named by its id and its `exported` entry together")
    _expect(entries, facts["exported_seq"], "exported", refs={"request": request_id, "export": facts["export_id"]})
    _expect(entries, facts["completed_seq"], "request-completed", refs={"request": request_id},
            outcome=facts["outcome"])
    for subject in facts["subjects"]:
        who = subject["subject"]
        _expect(entries, subject["erased_seq"], "erased", subject=who)
        _expect(entries, subject["key_destroyed_seq"], "key-destroyed", subject=who,
                keys_destroyed_at=subject["keys_destroyed_at"], final_everywhere_at=subject["final_everywhere_at"])
        for surface in subject["surfaces"]:
            for seq in surface["seqs"]:
                if entries[seq].get("subject", who) != who:
                    raise CertificateError(FACTS, f"entry {seq} is about another subject than {surface['surface']}'s")
    finals = [subject["final_everywhere_at"] for subject in facts["subjects"] if subject["final_everywhere_at"]]
    if body["erasure_final_at"] != max(finals, default=None):
        raise CertificateError(FACTS, "erasure_final_at is not the latest moment a subject's erasure became final")


def _cited_seqs(facts: dict[str, Any]) -> set[int]:
    """The seqs the facts cite, recomputed from them (their own `seqs` list is checked against it)."""
    cited: Iterable[int | None] = (
        facts["started_seq"], facts["completed_seq"], facts["exported_seq"],
        *(subject[name] for subject in facts["subjects"] for name in ("erased_seq", "key_destroyed_seq")),
        *(seq for subject in facts["subjects"] for surface in subject["surfaces"] for seq in surface["seqs"]),
    )
    return {seq for seq in cited if seq is not None}


def _expect(entries: dict[int, dict[str, Any]], seq: int | None, kind: str, **members: Any) -> None:
    """The entry at `seq` (when the facts cite one) is of `kind` and has these members' values."""
    if seq is None:
        return
    entry = entries[seq]
    if entry["kind"] != kind:
        raise CertificateError(FACTS, f"entry {seq} is {entry['kind']!r}, not {kind!r} as the facts say")
    for name, value in members.items():
        held = entry.get(name)
        if isinstance(value, dict):
            held = {key: (held or {}).get(key) for key in value}
        if held != value:
            raise CertificateError(FACTS, f"entry {seq}'s {name} is not what the facts say")
