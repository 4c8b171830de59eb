"""The record of processing activities' file (PROCESSING_RECORD_FILE): it loads against the
retention policy, and no example placeholder of the shipped file is left in it."""
from __future__ import annotations

from collections.abc import Iterator

from .context import Findings
from .report import Line, fail, ok, skipped, warn

# The shipped file marks every value it invents so (config/processing-record.toml).
PLACEHOLDER = "(example"


def check(findings: Findings) -> Iterator[Line]:
    from config import SettingsError
    from config.processing_record import load_processing_record
    from config.retention import load_policy

    check_name = "processing record"
    settings = findings.settings
    if settings is None:
        yield skipped(check_name, "settings")
        return
    path = settings.PROCESSING_RECORD_FILE
    try:
        record = load_processing_record(path, load_policy(settings.RETENTION_POLICY_FILE))
    except SettingsError as exc:
        yield fail(check_name, str(exc), f"correct {path} (docs/dashboard.md, the record of processing activities)")
        return
    if record.contains_examples or PLACEHOLDER in path.read_text(encoding="utf-8"):
        yield warn(check_name, f"{path} still holds the shipped examples (the service runs; the record it shows is not yours)",
                   "replace every value marked (example…) with your organisation's, then set contains_examples = false")
        return
    yield ok(check_name, f"{path} loads against the retention policy and holds no example")
