"""The privacy notice's versions for the public page: the ones `notice register` stored, else the file.

Comms' `bookings-ledger notice register FILE` keeps each version's text (state/notice_versions.py);
the newest registered is the one in force. Before any is registered, the notice in force is
PRIVACY_NOTICE_FILE (config.privacy_notice), and there are no earlier versions to show.
"""
from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from config.privacy_notice import PrivacyNotice
from state.notice_versions import Notice, list_versions


def published_notices(connection: Connection, fallback: PrivacyNotice) -> list[Notice]:
    """Every version, the one in force first; just `fallback` (the file, never registered) when none was."""
    with Session(bind=connection) as session:
        registered = list_versions(session)
    return registered or [Notice(fallback.version, fallback.sha256, fallback.text, registered_at="", material=False)]
