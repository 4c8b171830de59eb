"""The privacy notice: its versions for the officer and the auditor, and its text for anyone.

The notice in force is read once at start (config.privacy_notice); `/privacy-notice` serves it
as a plain page, escaped, with nothing from outside the service and no personal data. The
versions recorded are the ledger's `notice-changed` entries (issue 13's `notice register`).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, render_template
from flask.blueprints import BlueprintSetupState

from config.privacy_notice import PrivacyNotice, load_notice
from dashboard.context import EXTENSION, context
from dashboard.recorded_versions import recorded_versions
from dashboard.roles import AUDITOR, PRIVACY_OFFICER, allow, public

bp = Blueprint("notices", __name__)
NOTICE = "bookings_ledger.privacy_notice"
BULLETS = ("•", "*", "-")


@dataclass(frozen=True)
class Block:
    """A paragraph (one item) or a bulleted list (its items) of the notice's text."""

    items: tuple[str, ...]
    bulleted: bool


@bp.record_once
def _load(state: BlueprintSetupState) -> None:
    dashboard = state.app.extensions[EXTENSION]
    state.app.extensions[NOTICE] = load_notice(dashboard.settings.PRIVACY_NOTICE_FILE, dashboard.policy.notice_version)


def _notice() -> PrivacyNotice:
    return current_app.extensions[NOTICE]


@bp.get("/notices")
@allow(PRIVACY_OFFICER, AUDITOR)
def notices_page() -> str:
    """The notice in force (version, SHA-256, last updated) and the versions the ledger recorded."""
    with context().ledger.transaction() as tx:
        versions = recorded_versions(tx.session, "notice-changed")
    notice = _notice()
    in_force_recorded = any(version.details.get("sha256") == notice.sha256 for version in versions)
    return render_template("notices/notices.html", notice=notice, versions=list(reversed(versions)),
                           in_force_recorded=in_force_recorded)


@bp.get("/privacy-notice")
@public
def public_notice() -> str:
    """The notice in force, as a readable page for anyone."""
    notice = _notice()
    return render_template("notices/public.html", notice=notice, blocks=blocks_of(notice.text))


def blocks_of(text: str) -> list[Block]:
    """The text's paragraphs (separated by blank lines), runs of bulleted ones joined into one list."""
    blocks: list[Block] = []
    for paragraph in (" ".join(line.strip() for line in part.splitlines()) for part in text.split("\n\n")):
        if not paragraph.strip():
            continue
        bulleted = paragraph.startswith(BULLETS)
        item = paragraph.lstrip("".join(BULLETS)).strip() if bulleted else paragraph.strip()
        if bulleted and blocks and blocks[-1].bulleted:
            blocks[-1] = Block(blocks[-1].items + (item,), True)
        else:
            blocks.append(Block((item,), bulleted))
    return blocks
