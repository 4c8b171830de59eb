"""What the record of processing activities (GDPR Art. 30) needs that the retention policy cannot know.

`processing-record.toml` (setting PROCESSING_RECORD_FILE) names the controller, joint controllers,
the representative and the DPO (Art. 30(1)(a)), who the data subjects are for each category of
the policy (c), the recipients, processors included, and which surfaces of data each receives (d),
the transfers to third countries with their safeguards (e), and the organisation's own security
measures (g). The purposes, categories of data and erasure time limits come from the policy.

The file is read once at start, checked against the policy (every category has its data subjects,
no category or surface is unknown, every transfer names a recipient); a broken file fails with one
SettingsError naming the field, like the policy.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from config.retention import RetentionPolicy
from config.settings import SettingsError
from config.toml_files import read_toml, validated

SETTING = "PROCESSING_RECORD_FILE"
Surface = Literal["bookings", "service", "outside"]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    @field_validator("*")
    @classmethod
    def _not_blank(cls, value: object) -> object:
        if isinstance(value, str) and not value:
            raise ValueError("may not be blank")
        return value


class Party(_Strict):
    """A controller, joint controller or representative: its name and how to reach it."""

    name: str
    contact: str


class DataProtectionOfficer(_Strict):
    """The DPO's contact (Art. 37(7): the contact details are what must be published)."""

    contact: str
    name: str | None = None


class DataSubjects(_Strict):
    """A category of data subjects and the policy's categories of data held about them."""

    name: str
    categories: tuple[str, ...]


class Recipient(_Strict):
    """Who receives the data of the policy's `surfaces`: a processor hosting it, another controller."""

    name: str
    role: Literal["processor", "controller", "joint controller", "public authority"]
    purpose: str
    surfaces: tuple[Surface, ...]


class Transfer(_Strict):
    """A transfer to a third country or international organisation, and its safeguard (Art. 44-49)."""

    recipient: str
    country: str
    safeguard: str


class ProcessingRecordFile(_Strict):
    """The whole file. `contains_examples` is true in the shipped file: the pages then say so."""

    contains_examples: bool = False
    controller: Party
    joint_controllers: tuple[Party, ...] = ()
    representative: Party | None = None
    dpo: DataProtectionOfficer | None = None
    data_subjects: tuple[DataSubjects, ...]
    recipients: tuple[Recipient, ...] = ()
    transfers: tuple[Transfer, ...] = ()
    security_measures: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _transfers_name_recipients(self) -> ProcessingRecordFile:
        names = {recipient.name for recipient in self.recipients}
        for transfer in self.transfers:
            if transfer.recipient not in names:
                raise ValueError(f"transfers: {transfer.recipient!r} is not one of the recipients")
        return self


def load_processing_record(path: Path, policy: RetentionPolicy) -> ProcessingRecordFile:
    """Read and validate the file against `policy`; SettingsError names the field that is wrong."""
    record = validated(ProcessingRecordFile, read_toml(path, SETTING), path, SETTING)
    known = {category.id for category in policy.category}
    for index, group in enumerate(record.data_subjects):
        unknown = sorted(set(group.categories) - known)
        if unknown:
            raise SettingsError(f"setting {SETTING}: {path}: data_subjects.{index}.categories: "
                                f"{', '.join(unknown)} is not a category of the retention policy")
    covered = {category for group in record.data_subjects for category in group.categories}
    if known - covered:
        raise SettingsError(f"setting {SETTING}: {path}: data_subjects: no data subjects for the policy's "
                            f"{', '.join(sorted(known - covered))}")
    return record
