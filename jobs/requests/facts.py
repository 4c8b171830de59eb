"""What carrying out a request found and did, as the certificate states it (ledger/certificates.py signs it).

    facts = CertificateFacts(request_id, request_type, outcome, subjects=(SubjectFacts(...), ...), ...)
    facts.as_dict()      # plain JSON values, stable key order: what ledger/certificates.py embeds

Per subject and per surface (the ledger itself, each business's Bookings customer records and
appointments, the staff mailboxes' events, an export archive): what was found there and what
was done to it, with Graph's evidence (request ids and HTTP statuses of the anonymisation steps,
never a body), the ledger's sequence numbers that record it, the moments the subject's erasure
became final, and what was kept and why (a legal hold's id, a record another person needs).
Ids, counts, codes and times only: a certificate is handed to the subject and a regulator, and
must itself hold nothing personal.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

SURFACES = ("ledger", "appointment", "customer", "event", "export")
# What was done to a surface's object. `kept`: left as it was (a legal hold, or a choice).
ACTIONS = ("anonymised", "deleted", "cancelled", "rectified", "restricted", "objected", "opted-out", "exported",
           "erased", "kept", "none")


@dataclass(frozen=True)
class GraphEvidence:
    """One Graph answer behind an action: its request id and HTTP status."""

    request_id: str | None
    status: int | None


@dataclass(frozen=True)
class SurfaceFact:
    """One object of one surface: found, and what was done to it (with Graph's evidence)."""

    surface: str                         # one of SURFACES
    action: str                          # one of ACTIONS
    business: str | None = None          # the Bookings business, for Graph surfaces
    object_id: str | None = None         # the Graph id (appointment, customer, event), or None for the ledger
    graph: tuple[GraphEvidence, ...] = ()
    seqs: tuple[int, ...] = ()           # the ledger entries recording the action
    detail: str | None = None            # a code: "cancelled-with-message", "rewritten", "clean", "gone" …


@dataclass(frozen=True)
class KeptItem:
    """Something the request asked to remove that was kept, and why (the subject is told)."""

    subject: str
    surface: str
    object_id: str | None
    reason: str                          # "legal-hold", "needed-by-other-customer", "officer-kept", "failed"
    holds: tuple[str, ...] = ()          # the legal holds' ids, when reason is legal-hold


@dataclass(frozen=True)
class SubjectFacts:
    """One subject the request covered."""

    subject: str
    surfaces: tuple[SurfaceFact, ...] = ()
    erased_seq: int | None = None        # the `erased` entry
    key_destroyed_seq: int | None = None
    keys_destroyed_at: str | None = None     # when the key store forgot the keys (ErasureReceipt)
    final_everywhere_at: str | None = None   # plus the key store's backup retention


@dataclass(frozen=True)
class CertificateFacts:
    """Everything the certificate of one completed request states, ids and times only."""

    request_id: str
    request_type: str
    outcome: str                         # "done" | "partial"
    subjects: tuple[SubjectFacts, ...] = ()
    kept: tuple[KeptItem, ...] = ()
    started_seq: int | None = None       # `request-started`
    completed_seq: int | None = None     # `request-completed`
    export_id: str | None = None         # access / portability: the export's id
    exported_seq: int | None = None      # its `exported` entry (action `created`)
    counts: dict[str, int] = field(default_factory=dict)   # surface -> objects acted on

    @property
    def seqs(self) -> tuple[int, ...]:
        """Every ledger seq the facts cite, sorted: the certificate proves each one's inclusion."""
        cited = {self.started_seq, self.completed_seq, self.exported_seq}
        for subject in self.subjects:
            cited |= {subject.erased_seq, subject.key_destroyed_seq}
            cited |= {seq for surface in subject.surfaces for seq in surface.seqs}
        return tuple(sorted(seq for seq in cited if seq is not None))

    def as_dict(self) -> dict[str, Any]:
        """The facts as plain JSON values, with `seqs` included (`from_dict` reads them back)."""
        return json.loads(json.dumps({**asdict(self), "seqs": list(self.seqs)}))


def from_dict(data: dict[str, Any]) -> CertificateFacts:
    """The facts `as_dict` wrote (a resumed run certifies exactly what its completion recorded)."""
    subjects = tuple(SubjectFacts(**{**s, "surfaces": tuple(
        SurfaceFact(**{**f, "graph": tuple(GraphEvidence(**g) for g in f["graph"]), "seqs": tuple(f["seqs"])})
        for f in s["surfaces"])}) for s in data["subjects"])
    kept = tuple(KeptItem(**{**k, "holds": tuple(k["holds"])}) for k in data["kept"])
    plain = {k: v for k, v in data.items() if k not in ("subjects", "kept", "seqs")}
    return CertificateFacts(**{**plain, "subjects": subjects, "kept": kept})
