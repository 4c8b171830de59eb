"""The record of processing activities (GDPR Art. 30(1)), built from the policy and the record file.

One activity per category of the retention policy: its purpose, legal basis and erasure time limit
come from the policy (b, c, f); the controller, the data subjects, the recipients, the transfers
and the organisation's security measures from PROCESSING_RECORD_FILE (a, c, d, e, g), to which
the measures the service itself takes are added. `digest` is the SHA-256 of both inputs, so a
printed or downloaded copy says exactly which record it is.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from config.processing_record import DataProtectionOfficer, Party, ProcessingRecordFile, Recipient, Transfer
from config.retention import RetentionCategory, RetentionPolicy

LEGAL_BASES = {
    "consent": "Consent, Art. 6(1)(a)",
    "contract": "Contract, Art. 6(1)(b)",
    "legal_obligation": "Legal obligation, Art. 6(1)(c)",
    "vital_interests": "Vital interests, Art. 6(1)(d)",
    "public_task": "Public task, Art. 6(1)(e)",
    "legitimate_interests": "Legitimate interests, Art. 6(1)(f)",
}
ACTIONS = {"anonymise": "then anonymised in Bookings and erased from the ledger", "delete": "then deleted"}
# What the service does whatever the organisation adds (Art. 32(1)); each is true of its code.
SERVICE_MEASURES = (
    "Personal data in the ledger encrypted at rest (AES-256-GCM) under a data key per subject and "
    "category; erasure destroys the key",
    "Data keys kept wrapped by a master key in a key store apart from the main database, so a backup "
    "of the main database holds no key",
    "Emails and phone numbers searchable only through keyed blind indexes (HMAC-SHA256), never stored in clear",
    "A tamper-evident ledger: a hash chain with signed checkpoints, verifiable offline with the public key",
    "Dashboard sign-in through Microsoft Entra ID; what each person may do set by app role "
    "(PrivacyOfficer, Auditor, Admin)",
    "Every view of personal data in clear recorded: who, what and why",
    "Legal holds suspend every erasure of what they cover until released",
)
# Characters a spreadsheet reads as the start of a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Activity:
    """One processing activity: a category of the policy, with who it concerns and who receives it."""

    category: RetentionCategory
    data_subjects: tuple[str, ...]
    recipients: tuple[Recipient, ...]
    transfers: tuple[Transfer, ...]

    @property
    def legal_basis(self) -> str:
        return LEGAL_BASES[self.category.legal_basis]

    @property
    def erasure(self) -> str:
        return f"{self.category.time_limit}, {ACTIONS[self.category.action]}"


@dataclass(frozen=True)
class ProcessingRecord:
    """The whole record: the inputs, one activity per category, the security measures and the digest."""

    policy: RetentionPolicy
    file: ProcessingRecordFile
    activities: tuple[Activity, ...]
    security_measures: tuple[str, ...]
    digest: str


def build_record(policy: RetentionPolicy, file: ProcessingRecordFile) -> ProcessingRecord:
    """The record of processing activities of `policy` and `file` (checked against each other at load)."""
    activities = tuple(_activity(category, file) for category in policy.category)
    inputs = json.dumps({"policy": policy.model_dump(mode="json"), "record": file.model_dump(mode="json")},
                        sort_keys=True, separators=(",", ":"))
    return ProcessingRecord(policy, file, activities, SERVICE_MEASURES + file.security_measures,
                            hashlib.sha256(inputs.encode()).hexdigest())


def _activity(category: RetentionCategory, file: ProcessingRecordFile) -> Activity:
    recipients = tuple(r for r in file.recipients if category.surface in r.surfaces)
    names = {r.name for r in recipients}
    return Activity(category, tuple(g.name for g in file.data_subjects if category.id in g.categories), recipients,
                    tuple(t for t in file.transfers if t.recipient in names))


COLUMNS = (
    "Processing activity", "Description", "(a) Controller", "(a) Joint controllers", "(a) Representative",
    "(a) Data protection officer", "(b) Purpose", "Legal basis", "(c) Categories of data subjects",
    "(c) Categories of personal data", "(d) Recipients", "(e) Third-country transfers and safeguards",
    "(f) Time limit for erasure", "Retention (ISO 8601)", "Retention clock", "(g) Security measures",
    "Policy version", "Record digest (SHA-256)",
)


def csv_rows(record: ProcessingRecord) -> Iterator[list[str]]:
    """The header, then one row per activity in COLUMNS' order, every cell safe to open in a spreadsheet."""
    yield list(COLUMNS)
    file = record.file
    controller = _party(file.controller)
    joint = "; ".join(_party(party) for party in file.joint_controllers)
    representative = _party(file.representative) if file.representative else ""
    dpo = _dpo(file.dpo) if file.dpo else ""
    measures = "; ".join(record.security_measures)
    for activity in record.activities:
        category = activity.category
        cells = [
            category.id, category.description, controller, joint, representative, dpo, category.purpose,
            activity.legal_basis, "; ".join(activity.data_subjects),
            f"{category.notice_category}: {category.description} (fields: {', '.join(category.fields) or 'none'})",
            "; ".join(f"{r.name} ({r.role}): {r.purpose}" for r in activity.recipients),
            "; ".join(f"{t.country}, to {t.recipient}: {t.safeguard}" for t in activity.transfers),
            activity.erasure, category.retention, category.clock, measures, record.policy.policy_version,
            record.digest,
        ]
        yield [neutralised(cell) for cell in cells]


def neutralised(cell: str) -> str:
    """The cell, with a leading ' when a spreadsheet would otherwise run it as a formula."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def _party(party: Party) -> str:
    return f"{party.name}, {party.contact}"


def _dpo(dpo: DataProtectionOfficer) -> str:
    return f"{dpo.name}, {dpo.contact}" if dpo.name else dpo.contact
