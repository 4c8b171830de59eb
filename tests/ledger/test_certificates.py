"""Certificates: issued for a closed request, verified offline with the verifier key alone, and red
for everything the format forbids (a forged signature, another key, a proof for another seq, a
checkpoint that is not the signed one, altered facts, a member too many)."""
from __future__ import annotations

import copy
import json
from collections.abc import Callable

import pytest

from certified_requests import RULES, erased_request
from jobs.requests.facts import CertificateFacts
from ledger import requests
from ledger.certificates import issue_certificate, stored_certificate
from ledger.checkpoint_store import CheckpointSigner
from ledger.core import certificates as core
from ledger.core.signed_notes import sign_checkpoint, verifier_key
from ledger.requests import Intake


@pytest.fixture
def issued(ledger, signer):
    request_id, facts = erased_request(ledger)
    return issue_certificate(ledger, signer, request_id, facts), facts


def test_an_issued_certificate_verifies_offline_with_the_verifier_key_alone(ledger, signer, issued):
    """Every cited seq is proven against a checkpoint signed for it; facts, request and remains are stated."""
    certificate, facts = issued
    verified = core.verify_certificate(certificate.text, signer.verifier_key)
    body = verified.body
    assert [record["seq"] for record in body["ledger"]["entries"]] == list(facts.seqs)
    assert verified.checkpoint.size >= max(facts.seqs)
    assert body["erasure_final_at"] == facts.subjects[0].final_everywhere_at
    assert {item["where"] for item in body["remains"]} >= {"recoverable-items", "tenant-hold", "key-store-backups",
                                                           "privacy-mailbox"}
    assert body["facts"]["kept"][0]["holds"] == ["hold-1"]
    with ledger.transaction() as tx:
        request = requests.get(tx, facts.request_id)
        assert request.certificate_id == certificate.certificate_id
        assert stored_certificate(tx.session, certificate.certificate_id).text == certificate.text
    assert "ada@example.org" not in certificate.text


def test_issuing_twice_returns_the_first_certificate(ledger, signer, issued):
    certificate, facts = issued
    again = issue_certificate(ledger, signer, facts.request_id, facts)
    assert again.certificate_id == certificate.certificate_id and again.text == certificate.text


def test_an_open_request_gets_no_certificate(ledger, signer):
    with ledger.transaction() as tx:
        request = requests.receive(tx, Intake("access", "dashboard", email="b@example.org"), RULES)
    with pytest.raises(requests.RequestError, match="closed"):
        issue_certificate(ledger, signer, request.request_id, CertificateFacts(request.request_id, "access", "done"))


def _resigned(document: dict, signer: CheckpointSigner) -> dict:
    """The document with its body re-signed by the real key (to reach the checks after the signature)."""
    return core.sign_certificate(document["certificate"], signer.origin, signer.seed)


def _swap_proofs(document: dict, signer: CheckpointSigner) -> dict:
    entries = document["certificate"]["ledger"]["entries"]
    entries[0]["proof"], entries[1]["proof"] = entries[1]["proof"], entries[0]["proof"]
    return _resigned(document, signer)


def _older_checkpoint(document: dict, signer: CheckpointSigner) -> dict:
    """A checkpoint note validly signed, but of another tree than the one the proofs lead to."""
    document["certificate"]["ledger"]["checkpoint"] = sign_checkpoint(signer.origin, 3, bytes(32), signer.seed)
    return _resigned(document, signer)


def _unsigned_checkpoint(document: dict, signer: CheckpointSigner) -> dict:
    note = document["certificate"]["ledger"]["checkpoint"]
    document["certificate"]["ledger"]["checkpoint"] = sign_checkpoint(signer.origin, 99, bytes(32), bytes(range(32)))
    assert note != document["certificate"]["ledger"]["checkpoint"]
    return _resigned(document, signer)


def _altered(path: tuple, value, *, resign: bool = True) -> Callable[[dict, CheckpointSigner], dict]:
    def alter(document: dict, signer: CheckpointSigner) -> dict:
        target = document["certificate"]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return _resigned(document, signer) if resign else document
    return alter


def _unsigned_alteration(document: dict, signer: CheckpointSigner) -> dict:
    document["certificate"]["facts"]["outcome"] = "done"
    return document


def _forged_signature(document: dict, signer: CheckpointSigner) -> dict:
    return core.sign_certificate(document["certificate"], signer.origin, bytes(range(32)))


def _extra_member(document: dict, signer: CheckpointSigner) -> dict:
    document["certificate"]["facts"]["subjects"][0]["note"] = "nothing to see"
    return _resigned(document, signer)


def _extra_top_member(document: dict, signer: CheckpointSigner) -> dict:
    document["comment"] = "unsigned"
    return document


def _altered_entry(document: dict, signer: CheckpointSigner) -> dict:
    document["certificate"]["ledger"]["entries"][0]["entry"]["actor"] = "someone-else"
    return _resigned(document, signer)


def _dropped_entry(document: dict, signer: CheckpointSigner) -> dict:
    document["certificate"]["ledger"]["entries"].pop()
    return _resigned(document, signer)


def _moved_entry(document: dict, signer: CheckpointSigner) -> dict:
    """An erased seq pointed at the anonymised entry: the entry given is not of the kind the facts say."""
    facts = document["certificate"]["facts"]
    subject = facts["subjects"][0]
    subject["erased_seq"], anonymised = subject["surfaces"][0]["seqs"][0], subject["erased_seq"]
    subject["surfaces"][0]["seqs"] = [anonymised]
    return _resigned(document, signer)


FORGERIES = [
    ("forged signature", _forged_signature, core.SIGNATURE),
    ("altered after signing", _unsigned_alteration, core.SIGNATURE),
    ("a member the format lacks", _extra_member, core.MALFORMED),
    ("a member beside the certificate", _extra_top_member, core.MALFORMED),
    ("a proof for another seq", _swap_proofs, core.PROOF),
    ("a checkpoint of another tree", _older_checkpoint, core.CHECKPOINT),
    ("a checkpoint another key signed", _unsigned_checkpoint, core.CHECKPOINT),
    ("an entry altered", _altered_entry, core.PROOF),
    ("a cited entry left out", _dropped_entry, core.FACTS),
    ("facts citing the wrong kind", _moved_entry, core.FACTS),
    ("another request's id", _altered(("facts", "request_id"), "req_0000000000000000"), core.FACTS),
    ("a later final moment", _altered(("erasure_final_at",), "2099-01-01T00:00:00.000000Z"), core.FACTS),
    ("keys destroyed at another time", _altered(("facts", "subjects", 0, "keys_destroyed_at"),
                                                "2020-01-01T00:00:00.000000Z"), core.FACTS),
    ("another outcome than the ledger's", _altered(("facts", "outcome"), "done"), core.FACTS),
    ("its seq list padded", _altered(("facts", "seqs"), [1]), core.FACTS),
    ("an export named without its entry", _altered(("facts", "export_id"), "exp_0000000000000000"), core.FACTS),
    ("a time that is no date", _altered(("issued_at",), "2024-02-30T09:00:00.000000Z"), core.MALFORMED),
    ("a float", _altered(("facts", "counts", "appointment"), 1.5, resign=False), core.MALFORMED),
]


@pytest.mark.parametrize(("name", "forge", "reason"), FORGERIES, ids=[name for name, _f, _r in FORGERIES])
def test_the_verifier_goes_red_on_what_the_format_forbids(issued, signer, name, forge, reason):
    certificate, _facts = issued
    document = forge(copy.deepcopy(certificate.document), signer)
    with pytest.raises(core.CertificateError) as failure:
        core.verify_certificate(json.dumps(document), signer.verifier_key)
    assert failure.value.reason == reason, failure.value


def test_another_verifier_key_and_a_duplicate_key_are_refused(issued, signer):
    certificate, _facts = issued
    other = verifier_key(signer.origin, bytes(range(32)))
    with pytest.raises(core.CertificateError) as failure:
        core.verify_certificate(certificate.text, other)
    assert failure.value.reason == core.SIGNATURE
    duplicated = certificate.text.replace('"signature":', '"signature": "x", "signature":', 1)
    with pytest.raises(core.CertificateError) as failure:
        core.verify_certificate(duplicated, signer.verifier_key)
    assert failure.value.reason == core.MALFORMED


def test_a_checkpoint_note_does_not_pass_for_a_certificate(ledger, signer, issued):
    """Domain separation: the same key signs both, and neither verifies as the other."""
    certificate, _facts = issued
    note = certificate.document["certificate"]["ledger"]["checkpoint"]
    signature = note.rstrip("\n").rsplit("\n", 1)[-1].removeprefix("\u2014 ")
    with pytest.raises(core.CertificateError) as failure:
        core.verify_certificate(json.dumps({"certificate": certificate.document["certificate"], "signature": signature}),
                                signer.verifier_key)
    assert failure.value.reason == core.SIGNATURE


def test_the_auditors_copy_of_the_verifier_checks_a_certificate_on_its_own(issued, signer, tmp_path):
    """`verifier/certificates.py` in an export bundle, run by a bare interpreter from the bundle."""
    import subprocess
    import sys

    from ledger.core.auditor_verifier import copy_verifier

    copy_verifier(tmp_path / "verifier")
    certificate, _facts = issued
    (tmp_path / "certificate.json").write_text(certificate.text, encoding="utf-8")
    script = ("import sys; from verifier.certificates import verify_certificate; "
              "print(verify_certificate(open('certificate.json', 'rb').read(), sys.argv[1]).certificate_id)")
    done = subprocess.run([sys.executable, "-c", script, signer.verifier_key], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == certificate.certificate_id, done.stderr
