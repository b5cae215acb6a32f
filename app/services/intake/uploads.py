"""Uploaded files kept on the server between a preview and its confirmation.

Each upload is two files in one directory (e.g. instance/uploads/): `<token>.data` (the
bytes) and `<token>.json` (whose it is, for which department, what kind, its name and
hash). The token is random; an upload is shown only to the account that sent it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from app.errors import CitypointsError, NotFound
from app.files import private_dir, write_private

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
MAX_AGE = 24 * 3600  # an upload nobody confirmed within a day is swept away


class UploadQuotaExceeded(CitypointsError):
    """The account's uploads waiting for confirmation would pass its quota."""

    code = "upload_quota_exceeded"
    status = 413

    def __init__(self, *, used: int, size: int, quota: int):
        self.used, self.size, self.quota = used, size, quota
        super().__init__(
            f"your uploads waiting for confirmation take {_mb(used)} MB of your {_mb(quota)} "
            f"MB, and this file is {_mb(size)} MB: confirm or discard them first (each is "
            "removed a day after it was sent)")


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}"


@dataclass(frozen=True)
class Upload:
    token: str
    owner: str  # the account's user name
    department: str
    kind: str  # "records" or "list-entries"
    name: str  # the file's name as sent (made safe)
    size: int
    sha256: str
    uploaded_at: float  # seconds since the epoch


class UploadStore:
    """Save, load and discard uploads in `directory`; only their owner may load them."""

    def __init__(self, directory: str | os.PathLike, *, max_age: int = MAX_AGE):
        self.directory = Path(directory)
        self.max_age = max_age

    def save(self, *, data: bytes, owner: str, department: str, kind: str, name: str,
             quota: int | None = None) -> Upload:
        """Store `data` under a new random token and return its description; raise
        UploadQuotaExceeded if the owner's waiting uploads and `data` would pass `quota`
        bytes (None: no quota)."""
        private_dir(self.directory)
        self.sweep()
        if quota is not None:
            used = sum(u.size for u in self.waiting(owner))
            if used + len(data) > quota:
                raise UploadQuotaExceeded(used=used, size=len(data), quota=quota)
        upload = Upload(token=secrets.token_urlsafe(32), owner=owner, department=department,
                        kind=kind, name=name, size=len(data),
                        sha256=hashlib.sha256(data).hexdigest(), uploaded_at=time.time())
        self._write(self._path(upload.token, "data"), data)
        self._write(self._path(upload.token, "json"), json.dumps(asdict(upload)).encode())
        return upload

    def load(self, token: str, *, owner: str) -> tuple[Upload, bytes]:
        """Return an upload and its bytes; NotFound if unknown, expired or someone else's."""
        upload = self.describe(token, owner=owner)
        try:
            data = self._path(token, "data").read_bytes()
        except FileNotFoundError:
            raise self._missing() from None
        return upload, data

    def describe(self, token: str, *, owner: str) -> Upload:
        """Return an upload's description (see load)."""
        if not TOKEN_RE.match(token or ""):
            raise self._missing()
        try:
            upload = Upload(**json.loads(self._path(token, "json").read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            raise self._missing() from None
        if upload.owner != owner or time.time() - upload.uploaded_at > self.max_age:
            raise self._missing()
        return upload

    def waiting(self, owner: str) -> list[Upload]:
        """Return the owner's uploads that wait for confirmation (not expired)."""
        found = []
        cutoff = time.time() - self.max_age
        for path in self.directory.glob("*.json"):
            try:
                upload = Upload(**json.loads(path.read_text()))
            except (FileNotFoundError, ValueError, TypeError):
                continue
            if upload.owner == owner and upload.uploaded_at >= cutoff:
                found.append(upload)
        return found

    def discard(self, token: str) -> None:
        """Delete an upload (after it was imported or abandoned)."""
        if TOKEN_RE.match(token or ""):
            for suffix in ("data", "json"):
                self._path(token, suffix).unlink(missing_ok=True)

    def sweep(self) -> int:
        """Delete uploads older than `max_age`; return how many files went."""
        if not self.directory.is_dir():
            return 0
        gone = 0
        cutoff = time.time() - self.max_age
        for path in self.directory.iterdir():
            if path.suffix in (".data", ".json", ".tmp") and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                gone += 1
        return gone

    def _path(self, token: str, suffix: str) -> Path:
        return self.directory / f"{token}.{suffix}"

    def _write(self, path: Path, data: bytes) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        write_private(tmp, data)  # 0600: uploads hold personal data
        os.replace(tmp, path)

    @staticmethod
    def _missing() -> NotFound:
        return NotFound("this upload is not there any more (it was imported, discarded, sent "
                        "by someone else or is older than a day); upload the file again")
