"""`bookings-ledger doctor`: the IT admin's checklist from a new tenant to a running service.

Each group is a module with `check(findings) -> Iterator[Line]`, run in this order: later groups
read what earlier ones found (the settings, the migrated database) and say "skipped: needs …"
when it is missing, so one broken thing gives one FAIL line, never a traceback.
"""
from __future__ import annotations

from . import (database_checks, file_modes, graph_checks, key_vault_checks, ledger_checks, processing_record_check,
               public_url, settings_checks)
from .context import Findings
from .report import Line, Status, blocks, fail

# File modes come before the database: opening a SQLite database narrows its files' modes.
GROUPS = (settings_checks, key_vault_checks, graph_checks, public_url, file_modes, database_checks, ledger_checks, processing_record_check)

__all__ = ["Line", "Status", "blocks", "diagnose"]


def diagnose() -> list[Line]:
    """Every check's line, for the environment's settings."""
    findings = Findings()
    lines: list[Line] = []
    try:
        for group in GROUPS:
            try:
                lines.extend(group.check(findings))
            except Exception as exc:  # the checklist goes on; the type only: messages may hold data
                lines.append(fail(group.__name__.rsplit(".", 1)[-1], f"the check itself broke ({type(exc).__name__})",
                                  "report this as a bug of bookings-ledger doctor, with the lines above"))
    finally:
        findings.close()
    return lines
