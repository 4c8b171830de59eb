"""The privacy notice's versions for the public page: the ones `notice register` stored, else the file.

Comms' `bookings-ledger notice register FILE` keeps each version's text in `notice_versions`
(version, sha256, text, registered_at, material); the newest registered is the one in force. Before
any is registered, the notice in force is PRIVACY_NOTICE_FILE (config.privacy_notice) and there are
no earlier versions to show.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, column, inspect, select, table

from config.privacy_notice import PrivacyNotice

NOTICE_VERSIONS = table("notice_versions", column("version"), column("sha256"), column("text"),
                        column("registered_at"), column("material"))


@dataclass(frozen=True)
class PublishedNotice:
    """One version of the notice as the public page shows it."""

    version: str
    sha256: str
    text: str
    registered_at: str | None


def published_notices(connection: Connection, fallback: PrivacyNotice) -> list[PublishedNotice]:
    """Every version, the one in force first; just `fallback` (the file) when none was registered."""
    registered: list[PublishedNotice] = []
    if inspect(connection).has_table("notice_versions"):
        rows = connection.execute(select(NOTICE_VERSIONS.c.version, NOTICE_VERSIONS.c.sha256, NOTICE_VERSIONS.c.text,
                                      NOTICE_VERSIONS.c.registered_at)
                               .order_by(NOTICE_VERSIONS.c.registered_at.desc(), NOTICE_VERSIONS.c.version.desc()))
        registered = [PublishedNotice(row.version, row.sha256, row.text, row.registered_at) for row in rows]
    return registered or [PublishedNotice(fallback.version, fallback.sha256, fallback.text, None)]
