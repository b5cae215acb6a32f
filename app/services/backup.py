"""Consistent copies of the SQLite database while the app runs (SQLite's online backup API)."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from app.errors import InvalidInput
from app.files import create_private_file


@dataclass(frozen=True)
class BackupResult:
    path: str
    pages: int
    bytes: int


def backup_sqlite(engine: Engine, dest: str | os.PathLike) -> BackupResult:
    """Copy the live SQLite database to `dest` page by page, consistent at one moment."""
    if engine.dialect.name != "sqlite":
        raise InvalidInput("backup copies SQLite databases; for PostgreSQL use pg_dump "
                           "(see the README)")
    target = Path(dest)
    if target.is_dir():
        raise InvalidInput(f"{target} is a folder: name the backup file")
    if target.exists():
        raise InvalidInput(f"{target} exists already: a backup never overwrites a file")
    create_private_file(target)  # 0600 before a byte is copied: it is the whole register
    pages = 0

    def progress(_status, remaining, total):
        nonlocal pages
        pages = total - remaining

    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        with sqlite3.connect(target) as copy:
            source.backup(copy, pages=1024, progress=progress)
        copy.close()
    finally:
        raw.close()
    return BackupResult(str(target), pages, target.stat().st_size)
