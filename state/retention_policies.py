"""The versions of the retention policy the service has run under, each recorded once.

    retention_policy_versions   policy_version -> effective from, each category's period and clock

The ledger's `policy-changed` entry is the evidence; this table is what the next start compares
the policy file with ("is this a new version, and which categories did it make stricter?").
Migration 0014_retention creates it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from database.base import TIME, Base


class RetentionPolicyVersion(Base):
    """One recorded version of the retention policy."""

    __tablename__ = "retention_policy_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    policy_version: Mapped[str] = mapped_column(String(64))
    effective_from: Mapped[str] = mapped_column(TIME)
    periods: Mapped[str] = mapped_column(Text)       # JSON: category id -> [period, clock]


@dataclass(frozen=True)
class PolicyVersion:
    """A recorded version: its name, since when it applies, and category id -> (period, clock)."""

    policy_version: str
    effective_from: str
    periods: dict[str, tuple[str, str]]


def latest(session: Session) -> PolicyVersion | None:
    """The version recorded last, None before the first."""
    row = session.scalars(select(RetentionPolicyVersion).order_by(RetentionPolicyVersion.id.desc()).limit(1)).first()
    if row is None:
        return None
    return PolicyVersion(row.policy_version, row.effective_from,
                         {category: (period, clock) for category, (period, clock) in json.loads(row.periods).items()})


def was_recorded(session: Session, policy_version: str) -> bool:
    """Whether this version was ever recorded."""
    return session.scalar(select(RetentionPolicyVersion.id).where(
        RetentionPolicyVersion.policy_version == policy_version).limit(1)) is not None


def record(session: Session, version: PolicyVersion) -> None:
    """Record a version as the one in force from its `effective_from`."""
    session.add(RetentionPolicyVersion(policy_version=version.policy_version, effective_from=version.effective_from,
                                       periods=json.dumps({c: list(p) for c, p in version.periods.items()}, sort_keys=True)))
