"""`bookings-ledger certificate show ID [--html FILE] [--output FILE]` and `certificate verify FILE [--key K]`:
exit 0 when it verifies, 1 when forged, 2 on bad usage."""
from __future__ import annotations

import json

import pytest

from ledger.certificates import issue_certificate
from ledger.core.signed_notes import verifier_key
from certified_requests import erased_request


@pytest.fixture
def certificate(ledger, signer):
    request_id, facts = erased_request(ledger)
    return issue_certificate(ledger, signer, request_id, facts)


def test_show_writes_the_document_and_its_html_and_verify_accepts_it(cli, certificate, signer, tmp_path):
    document, page = tmp_path / "certificate.json", tmp_path / "certificate.html"
    code, output = cli("certificate", "show", certificate.certificate_id, "--output", str(document), "--html", str(page))
    assert code == 0, output
    assert certificate.request_id in output and "recoverable-items until" in output
    assert document.read_text() == certificate.text
    html = page.read_text()
    assert certificate.request_id in html and "<script" not in html and "legal-hold" in html
    code, output = cli("certificate", "verify", str(document))
    assert code == 0 and "verifies" in output, output
    code, output = cli("certificate", "verify", str(document), "--key", signer.verifier_key, "--json")
    assert code == 0 and json.loads(output)["ok"] is True


def test_verify_exits_1_on_a_forged_certificate_or_another_key(cli, certificate, signer, tmp_path):
    forged = tmp_path / "forged.json"
    forged.write_text(certificate.text.replace('"outcome": "partial"', '"outcome": "done"', 1))
    assert forged.read_text() != certificate.text
    code, output = cli("certificate", "verify", str(forged))
    assert code == 1 and "FAILED" in output and "signature" in output
    real = tmp_path / "real.json"
    real.write_text(certificate.text)
    code, output = cli("certificate", "verify", str(real), "--key", verifier_key(signer.origin, bytes(range(32))))
    assert code == 1, output


@pytest.mark.parametrize("args", [("certificate", "verify", "missing.json"),
                                  ("certificate", "verify", "FILE", "--key", "not-a-key"),
                                  ("certificate", "show", "cert_0000000000000000")])
def test_bad_usage_exits_2(cli, certificate, tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "FILE").write_text(certificate.text)
    code, output = cli(*args)
    assert code == 2 and "Traceback" not in output, output


def test_the_html_page_escapes_what_it_renders(certificate):
    """A code in the facts cannot inject markup into the page."""
    from ledger.certificate_html import render_html

    document = certificate.document
    document["certificate"]["facts"]["subjects"][0]["surfaces"][0]["detail"] = "<script>alert(1)</script>"
    page = render_html(document)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_verify_with_a_key_needs_no_settings_and_no_database(cli, certificate, signer, tmp_path, monkeypatch):
    """Offline: with --key, nothing of the service's configuration is read."""
    for name in ("DATABASE_URL", "KEYSTORE_URL", "LEDGER_MASTER_KEY", "BLIND_INDEX_KEY", "CHECKPOINT_SIGNING_KEY",
                 "CHECKPOINT_VERIFIER_KEY", "CHECKPOINT_ORIGIN"):
        monkeypatch.delenv(name, raising=False)
    document = tmp_path / "certificate.json"
    document.write_text(certificate.text)
    code, output = cli("certificate", "verify", str(document), "--key", signer.verifier_key)
    assert code == 0 and "verifies" in output, output
    code, output = cli("certificate", "verify", str(document))
    assert code == 2 and "CHECKPOINT_VERIFIER_KEY" in output, output
