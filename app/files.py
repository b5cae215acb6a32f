"""Files that hold personal data (the SQLite database, its backups, uploads) are the
service account's alone: created 0600, in directories created 0700."""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: str | os.PathLike) -> Path:
    """Make the directory `path` (and missing parents) 0700 where it is created now."""
    directory = Path(path)
    missing = []
    for parent in (directory, *directory.parents):
        if parent.exists():
            break
        missing.append(parent)
    for parent in reversed(missing):  # mkdir(parents=True) would make the parents 0755
        parent.mkdir(mode=DIR_MODE, exist_ok=True)
    return directory


def create_private_file(path: str | os.PathLike) -> bool:
    """Create `path` empty and 0600 if it does not exist (its directory 0700 if new);
    return whether it was created. The umask cannot widen the mode."""
    target = Path(path)
    private_dir(target.parent)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def write_private(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to a new file `path`, 0600 (it must not exist yet)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
