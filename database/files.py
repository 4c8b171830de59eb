"""Files that hold the service's data are private to the user it runs as.

Directories the service creates for them (`var/` and any missing parent) are made 0700; a
SQLite database file is created 0600 before SQLite first opens it. The file is created empty
with `O_EXCL` and mode 0600 rather than chmod-ed after SQLite made it: between a 0644 create
and a chmod, another local user could open the file, and an open descriptor keeps reading
whatever is written later. SQLite gives the `-wal` and `-shm` files it creates the mode of the
database file, so they are 0600 too. A database file (or `-wal`, `-shm`) left readable by an
older version loses group and other access when the engine is created, if this user owns it.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def make_private_directory(directory: Path) -> None:
    """Create `directory` and each missing parent 0700; directories that exist are left as they are."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=PRIVATE_DIRECTORY)
        except FileExistsError:  # another process made it meanwhile: it set its own mode
            continue
        os.chmod(created, PRIVATE_DIRECTORY)  # mkdir's mode is narrowed by the umask, never widened


def prepare_sqlite_file(database: Path) -> None:
    """Make the database's directory private, create the file 0600 if missing, narrow old files."""
    make_private_directory(database.parent)
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass
    for suffix in SQLITE_COMPANIONS:
        _narrow(Path(f"{database}{suffix}"))


def _narrow(path: Path) -> None:
    try:
        status = path.stat()
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(status.st_mode)
    if status.st_uid == os.getuid() and mode & 0o077:
        os.chmod(path, mode & ~0o077)
