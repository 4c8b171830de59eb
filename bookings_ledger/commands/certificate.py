"""`bookings-ledger certificate verify FILE [--key VKEY] | show ID [--html FILE] [--json]`."""
from __future__ import annotations

from pathlib import Path

import click

from bookings_ledger.commands.shared import JSON_OPTION, print_document, refuse


@click.group()
def command() -> None:
    """Certificates of completed data-subject requests."""


@command.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", "verifier_key", help="The verifier key string; default: CHECKPOINT_VERIFIER_KEY.")
@JSON_OPTION
def verify_command(file: Path, verifier_key: str | None, as_json: bool) -> None:
    """Check a certificate FILE offline: its signature, its checkpoint, every proof and fact (no database)."""
    from ledger.core.certificates import CertificateError, verify_certificate
    from ledger.core.signed_notes import NoteError, parse_verifier_key

    if verifier_key is None:
        from config import load_settings
        from ledger.checkpoint_store import verifier_key_from_settings

        verifier_key = verifier_key_from_settings(load_settings())
    try:
        parse_verifier_key(verifier_key)
    except NoteError as exc:
        refuse(f"--key is not a verifier key: {exc}")
    try:
        text = file.read_bytes()
    except OSError as exc:
        refuse(f"cannot read {file}: {exc.strerror}")
    try:
        verified = verify_certificate(text, verifier_key)
    except CertificateError as exc:
        print_document({"ok": False, "reason": exc.reason, "detail": str(exc)}, as_json,
                       lines=[f"certificate verification FAILED: {exc}"])
        raise click.exceptions.Exit(1) from None
    body = verified.body
    print_document({"ok": True, "certificate_id": verified.certificate_id, "request_id": body["request"]["request_id"],
                    "checkpoint_size": verified.checkpoint.size, "entries": len(body["ledger"]["entries"])}, as_json,
                   lines=[f"certificate {verified.certificate_id} of request {body['request']['request_id']} verifies: "
                          f"{len(body['ledger']['entries'])} entries proven against the signed checkpoint of "
                          f"{verified.checkpoint.size}"])


@command.command("show")
@click.argument("certificate_id")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the certificate as an HTML page to this file.")
@click.option("--output", "json_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the signed JSON document (the file that verifies) to this file.")
@JSON_OPTION
def show_command(certificate_id: str, html_file: Path | None, json_file: Path | None, as_json: bool) -> None:
    """Print a stored certificate's summary (--json: the signed document itself)."""
    from sqlalchemy.orm import Session

    from config import load_settings
    from database.engine import open_migrated
    from ledger.certificate_html import render_html
    from ledger.certificates import stored_certificate

    engine = open_migrated(load_settings().DATABASE_URL)
    try:
        with Session(engine) as session:
            certificate = stored_certificate(session, certificate_id)
    finally:
        engine.dispose()
    if certificate is None:
        refuse(f"no certificate {certificate_id}")
    document = certificate.document
    if html_file is not None:
        html_file.write_text(render_html(document), encoding="utf-8")
    if json_file is not None:
        json_file.write_text(certificate.text, encoding="utf-8")
    if as_json:
        click.echo(certificate.text, nl=False)
        return
    body = document["certificate"]
    request, facts = body["request"], body["facts"]
    lines = [f"certificate {certificate.certificate_id} (sha256 {certificate.sha256})",
             f"request {request['request_id']}: {request['request_type']} ({request['regime']}), {request['state']}, "
             f"outcome {request['outcome'] or '-'}, completed {request['completed_at'] or '-'}",
             f"subjects {len(facts['subjects'])}, kept {len(facts['kept'])}, ledger seqs {len(facts['seqs'])}, "
             f"erasure final {body['erasure_final_at'] or '-'}"]
    lines += [f"may remain: {item['where']} until {item['until'] or 'no known end'}" for item in body["remains"]]
    print_document({}, False, lines=lines)
