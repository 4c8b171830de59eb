"""`bookings-ledger doctor`: the IT admin's checklist from a new tenant to a running service.

Each group is a module with `check(findings) -> Iterator[Line]`, run in this order: later groups
read what earlier ones found (the settings, the migrated database) and say "skipped: needs …"
when it is missing, so one broken thing gives one FAIL line, never a traceback.
"""
from __future__ import annotations

from . import database_checks, file_modes, graph_checks, ledger_checks, public_url, settings_checks
from .context import Findings
from .report import Line, Status, blocks

# File modes come before the database: opening a SQLite database narrows its files' modes.
GROUPS = (settings_checks, graph_checks, public_url, file_modes, database_checks, ledger_checks)

__all__ = ["Line", "Status", "blocks", "diagnose"]


def diagnose() -> list[Line]:
    """Every check's line, for the environment's settings."""
    findings = Findings()
    try:
        return [line for group in GROUPS for line in group.check(findings)]
    finally:
        findings.close()
