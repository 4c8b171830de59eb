"""File modes: the directories of the service's data 0700, its database and key-store files and
the Graph certificate 0600 (no access for group or others; database/files.py makes them so)."""
from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

from .context import Findings
from .report import Line, fail, ok, skipped

GROUP_OR_OTHERS = 0o077


def check(findings: Findings) -> Iterator[Line]:
    from database.files import SQLITE_COMPANIONS

    settings = findings.settings
    if settings is None:
        yield skipped("file modes", "settings")
        return
    databases = [path for path in map(_sqlite_path, (settings.DATABASE_URL, settings.KEYSTORE_URL)) if path]
    directories = {path.parent for path in databases} | {settings.CHECKPOINT_DIR.parent, settings.CHECKPOINT_DIR}
    files = [Path(f"{path}{suffix}") for path in databases for suffix in SQLITE_COMPANIONS]
    if settings.GRAPH_CLIENT_CERTIFICATE:
        files.append(settings.GRAPH_CLIENT_CERTIFICATE)
    present = [path for path in sorted(directories) + files if path.exists()]
    too_open = [f"{path} is {_mode(path):o}" for path in present if _mode(path) & GROUP_OR_OTHERS]
    if too_open:
        yield fail("file modes", f"readable by others: {'; '.join(too_open)}",
                   "chmod 700 each directory and chmod 600 each file named (as the user the service runs as)")
        return
    yield ok("file modes", f"{len(present)} data directories and files, none open to group or others")


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)
