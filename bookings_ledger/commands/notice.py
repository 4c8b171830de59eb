"""`bookings-ledger notice register FILE [--version V] [--material]`: a new privacy-notice version.

Records `notice-changed` (version, SHA-256, material) and stores the text for the public privacy
page (jobs/notices.py). `--version` defaults to the date of the file's `Last updated:` line
(`2024-02-26`, the form the retention policy's `notice_version` takes). With `--material`, one
notice per person whose data is still held is planned in the same transaction; the scheduler's
`notices` job sends them in batches of NOTICE_BATCH_SIZE. Registering the same file again does
nothing. Exit codes: 0 registered (or registered already); 2 bad usage: an unreadable file, no
version to be found, a version registered with another text, or (with --material) a broken mail
template.
"""
from __future__ import annotations

from pathlib import Path

import click

from bookings_ledger.commands.shared import JSON_OPTION, opened_ledger, print_document, refuse


@click.group()
def command() -> None:
    """Register privacy-notice versions."""


@command.command("register")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--version", "version", help="The version's name (default: the date of its `Last updated:` line).")
@click.option("--material", is_flag=True, help="A material change: tell every person whose data is still held.")
@JSON_OPTION
def register_command(file: Path, version: str | None, material: bool, as_json: bool) -> None:
    """Record a notice version; with --material, plan the notices of the change."""
    from config import load_settings
    from config.mail_templates import load_templates
    from config.privacy_notice import load_notice
    from config.settings import SettingsError
    from jobs.notices import register_notice

    if material:
        # Before thousands of notices are planned: a broken template stops here (exit 2), not in the job.
        load_templates(load_settings().MAIL_TEMPLATES_DIR)
    try:
        notice = load_notice(file, version or "")
    except SettingsError as exc:
        refuse(str(exc).removeprefix("setting PRIVACY_NOTICE_FILE: "))
    version = version or _dated(notice.last_updated)
    with opened_ledger() as ledger:
        try:
            registered = register_notice(ledger, notice.text, version=version, material=material)
        except ValueError as exc:
            refuse(str(exc))
    state = "registered already" if registered.seq is None else f"registered at seq {registered.seq}"
    lines = [f"notice {version} {state} (sha256 {registered.sha256})"]
    if registered.seq is not None and material:
        lines.append(f"{registered.planned} notices planned; the scheduler's `notices` job sends them")
    print_document({"version": version, "sha256": registered.sha256, "seq": registered.seq, "material": material,
                    "planned": registered.planned}, as_json, lines=lines)


def _dated(last_updated: str | None) -> str:
    """The ISO date of a `Last updated:` line's text ("February 26, 2024" -> "2024-02-26")."""
    from dateutil import parser

    if last_updated is None:
        refuse("the notice has no `Last updated:` line: give --version")
    try:
        return parser.parse(last_updated).date().isoformat()
    except (ValueError, OverflowError):
        refuse(f"cannot read the date {last_updated!r} of its `Last updated:` line: give --version")
