"""The privacy notice in force: the text of PRIVACY_NOTICE_FILE, its version and its SHA-256.

Its version is the retention policy's `notice_version` (every ledger entry records it); its
SHA-256, of the file's bytes, is what says which text that version was, in the ledger's
`notice-changed` entries (issue 13's `notice register` records them) and on a printed page.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from config.settings import SettingsError

_LAST_UPDATED = re.compile(r"^\s*Last updated:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class PrivacyNotice:
    """The notice's text, version, digest, and the date its text says it was last updated (if it says)."""

    text: str
    version: str
    sha256: str
    last_updated: str | None


def load_notice(path: Path, version: str) -> PrivacyNotice:
    """Read the notice file; SettingsError when it cannot be read or is not UTF-8 text."""
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except OSError as exc:
        raise SettingsError(f"setting PRIVACY_NOTICE_FILE: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"setting PRIVACY_NOTICE_FILE: {path} is not UTF-8 text") from None
    last_updated = _LAST_UPDATED.search(text)
    return PrivacyNotice(text, version, hashlib.sha256(data).hexdigest(), last_updated.group(1) if last_updated else None)
