"""The retention policy: a validated, read-only view of `retention.toml`.

The file is read once at start; a broken file fails with one message naming the category and
field, like any other setting. Durations are ISO 8601 (`P90D`, `P1Y`, `PT8H`); a year counts
as 365 days and a month as 30, the conservative reading for "no longer than". Days are counted
on the business's local calendar (`RetentionCategory.ends`), hours and minutes as elapsed time.
An optional `[children]` table is the rule that flags a customer as a child from their answer to
a custom question (jobs/children.py).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from config.toml_files import read_toml, validated

NOTICE_CATEGORIES = (
    "Booking information",
    "Account information",
    "Device and usage information",
    "Cookies and similar technologies",
)
_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")
_UNIT_DAYS = (365, 30, 7, 1)
_UNITS = ("year", "month", "week", "day", "hour", "minute")
# What starts each clock, as the record of processing and the dashboard say it ("1 year after ...").
CLOCK_WORDS = {
    "appointment_end": "the end of the appointment",
    "last_contact": "the customer's last booking, edit or message",
    "collected": "it was collected",
    "cancellation": "the appointment was cancelled or deleted",
    "session_end": "the dashboard session ended",
}


def parse_period(text: str) -> tuple[int, timedelta]:
    """An ISO 8601 duration as (calendar days, elapsed time): `P1DT2H` is (1, 2 hours)."""
    match = _DURATION.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as P90D or P1Y")
    years, months, weeks, days, hours, minutes = (int(part or 0) for part in match.groups())
    whole_days = sum(n * unit for n, unit in zip((years, months, weeks, days), _UNIT_DAYS))
    return whole_days, timedelta(hours=hours, minutes=minutes)


def period_in_words(text: str) -> str:
    """An ISO 8601 duration as a person says it, unit by unit as written: `P1Y6M` is "1 year 6 months"."""
    parse_period(text)   # refuses what is not a duration
    match = _DURATION.match(text)
    assert match is not None
    parts = [(int(n), unit) for n, unit in zip(match.groups(), _UNITS) if n is not None]
    return " ".join(f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts)


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration of years, months, weeks, days, hours and minutes."""
    days, elapsed = parse_period(text)
    return timedelta(days=days) + elapsed


def period_ends(period: str, start: datetime, zone: tzinfo = timezone.utc) -> datetime:
    """When `period` started at `start` ends: its days on `zone`'s local calendar, so P30D ends at the
    same local wall-clock time 30 local days later across a daylight-saving change; then its hours
    and minutes as elapsed time. A wall-clock time a DST change skips or repeats is read as the
    later of its two instants, so data is never due early."""
    days, elapsed = parse_period(period)
    wall = start.astimezone(zone).replace(tzinfo=None) + timedelta(days=days)
    end = max(wall.replace(tzinfo=zone, fold=fold).astimezone(timezone.utc) for fold in (0, 1))
    return end + elapsed


class RetentionCategory(BaseModel):
    """One kind of personal data: why it is held, on what basis, and for how long."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    notice_category: Literal[NOTICE_CATEGORIES]  # type: ignore[valid-type]
    description: str
    fields: tuple[str, ...]
    purpose: str
    legal_basis: Literal["consent", "contract", "legal_obligation", "vital_interests", "public_task", "legitimate_interests"]
    retention: str
    clock: Literal["appointment_end", "last_contact", "collected", "cancellation", "session_end"]
    action: Literal["anonymise", "delete"]
    surface: Literal["bookings", "service", "outside"]

    @field_validator("retention")
    @classmethod
    def _valid_duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def period(self) -> timedelta:
        return parse_duration(self.retention)

    @property
    def time_limit(self) -> str:
        """The envisaged time limit for erasure in words: "1 year after the end of the appointment"."""
        return f"{period_in_words(self.retention)} after {CLOCK_WORDS[self.clock]}"

    def ends(self, start: datetime, zone: tzinfo = timezone.utc) -> datetime:
        """When this category's period, started at `start`, ends on `zone`'s calendar (`period_ends`)."""
        return period_ends(self.retention, start, zone)


class ChildrenRule(BaseModel):
    """Which answer to which custom question makes a customer a child (jobs/children.py).

    `age_question` is matched case-insensitively against each answer's `question` (Bookings copies
    the question's text into every answer). A text answer that starts with a whole number is an
    age, and an age under `minimum_age` flags the customer; an answer or selected option equal
    (case-insensitively) to one of `flag_answers` flags them too (radio-button questions)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    age_question: str
    minimum_age: int = Field(default=13, ge=1, le=25)
    flag_answers: tuple[str, ...] = ()

    @field_validator("age_question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("age_question must name a question")
        return value


class AnonymisationPolicy(BaseModel):
    """How expired Bookings data leaves Graph (docs/anonymisation.md).

    appointment      "rewrite-or-delete": rewrite customers[] while the business must keep the
                     appointment (another customer, a category not yet expired, a hold), delete it
                     when nothing needs it; "rewrite": never delete an appointment
    customer_record  "delete": delete the Bookings customer record when nothing live or held
                     needs it; "keep": leave customer records to the business
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    appointment: Literal["rewrite-or-delete", "rewrite"] = "rewrite-or-delete"
    customer_record: Literal["delete", "keep"] = "delete"


class RetentionPolicy(BaseModel):
    """The whole policy, with the versions every ledger entry records."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy_version: str
    notice_version: str
    notice_url: str
    category: tuple[RetentionCategory, ...]
    children: ChildrenRule | None = None
    anonymisation: AnonymisationPolicy = AnonymisationPolicy()

    @field_validator("category")
    @classmethod
    def _complete_and_unique(cls, categories: tuple[RetentionCategory, ...]) -> tuple[RetentionCategory, ...]:
        ids = [c.id for c in categories]
        if len(ids) != len(set(ids)):
            raise ValueError("category ids must be unique")
        uncovered = set(NOTICE_CATEGORIES) - {c.notice_category for c in categories}
        if uncovered:
            raise ValueError(f"the privacy notice's {', '.join(sorted(uncovered))} has no category")
        return categories

    def by_id(self, category_id: str) -> RetentionCategory:
        """The category with that id; KeyError names it when there is none."""
        for category in self.category:
            if category.id == category_id:
                return category
        raise KeyError(category_id)

    def for_field(self, field: str) -> RetentionCategory | None:
        """The category a Graph field path belongs to (e.g. `customers[].emailAddress`)."""
        for category in self.category:
            if field in category.fields:
                return category
        return None


def load_policy(path: Path) -> RetentionPolicy:
    """Read and validate a retention policy file; SettingsError says what is wrong and where."""
    return validated(RetentionPolicy, read_toml(path, "RETENTION_POLICY_FILE"), path, "RETENTION_POLICY_FILE")
