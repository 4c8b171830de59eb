"""A request's files: the access or portability export (the officer's download) and the certificate.

The export is opened only through `state.exports.open_export`, which appends the `exported`
entry (action `downloaded`, the officer as actor) and returns the archive once it committed: no
byte of it leaves unrecorded. It is the requester's personal data in clear, so it is the
officer's alone (the auditor sees that it was made and downloaded, on the request's timeline).
The certificate holds ids, codes, counts and times only, as issued and signed: the auditor may
take it too. Every answer here is `no-store` and an attachment, never rendered in the page.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort
from sqlalchemy.orm import Session

from dashboard.context import context
from dashboard.roles import AUDITOR, PRIVACY_OFFICER, allow
from dashboard.sessions import current_user
from ledger.certificate_html import render_html
from ledger.certificates import Certificate, stored_certificate
from ledger.models import RequestProjection
from state.exports import ExportGone, open_export

bp = Blueprint("files", __name__)


@bp.get("/requests/<request_id>/export.zip")
@allow(PRIVACY_OFFICER)
def export(request_id: str) -> Response:
    """The request's archive, decrypted, once its download is on the record; 410 when it is gone."""
    user = current_user()
    assert user is not None, "the role guard ran first"
    known_request(request_id)
    try:
        archive = open_export(context().ledger, request_id, by=user.id)
    except ExportGone:
        abort(410)
    return _attachment(archive, "application/zip", f"{request_id}-export.zip")


@bp.get("/requests/<request_id>/certificate.json")
@allow(PRIVACY_OFFICER, AUDITOR)
def certificate_json(request_id: str) -> Response:
    """The signed certificate, byte for byte as issued (what `certificate verify` checks)."""
    certificate = _certificate(request_id)
    return _attachment(certificate.text.encode("utf-8"), "application/json", f"{certificate.certificate_id}.json")


@bp.get("/requests/<request_id>/certificate.html")
@allow(PRIVACY_OFFICER, AUDITOR)
def certificate_html(request_id: str) -> Response:
    """The certificate as a page for the file (`certificate show --html`'s), the signed JSON embedded.
    An attachment: its own inline style would break the dashboard's policy if rendered here."""
    certificate = _certificate(request_id)
    return _attachment(render_html(certificate.document).encode("utf-8"), "text/html",
                       f"{certificate.certificate_id}.html")


def _certificate(request_id: str) -> Certificate:
    request = known_request(request_id)
    with Session(context().engine) as session:
        certificate = stored_certificate(session, request.certificate_id) if request.certificate_id else None
    if certificate is None:
        abort(404)
    return certificate


def known_request(request_id: str) -> RequestProjection:
    """The request's projection; 404 when the ledger knows no such request."""
    with Session(context().engine) as session:
        found = session.get(RequestProjection, request_id)
    if found is None:
        abort(404)
    return found


def _attachment(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
