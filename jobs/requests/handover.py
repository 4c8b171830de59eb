"""What a run hands over: the access export and the certificate (their modules, called here).

    export(run, subjects, settings) -> export id   # access, portability: jobs/requests/export.build_export
    certify(ledger, settings, request_id, facts) -> certificate id    # ledger/certificates.issue_certificate

Imported when called, not at import time: the runner's other request types do not depend on
them, and the scheduler process that runs only erasures need not load the export's archive code.
"""
from __future__ import annotations

from typing import Any

from jobs.requests.facts import CertificateFacts
from jobs.requests.run import Run
from ledger.transactions import Ledger


def export(run: Run, subjects: list[str], settings: Any) -> dict[str, Any]:
    """Build the subject's export (`build_export`, into EXPORT_DIR); its id and `exported` entry's seq."""
    from jobs.requests.export import build_export

    with run.ledger.transaction() as tx:
        request = tx.request(run.request_id)
    record = build_export(run.ledger, run.graph, request, subjects, run.clock, settings=settings)
    return {"export": record.export_id, "seq": record.exported_seq}


def certify(ledger: Ledger, settings: Any, request_id: str, facts: CertificateFacts) -> str:
    """Issue the request's signed certificate (`ledger.certificates.issue_certificate`); its id."""
    from ledger.certificates import issue_certificate
    from ledger.checkpoint_store import CheckpointSigner

    certificate = issue_certificate(ledger, CheckpointSigner.from_settings(settings), request_id, facts,
                                    checkpoint_dir=settings.CHECKPOINT_DIR)
    return certificate.certificate_id
