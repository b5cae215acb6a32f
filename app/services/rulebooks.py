"""The rulebook in force: loaded from the rules directory, refused when broken, and
stored in the database with its fingerprint so any record can name the exact rulebook."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from app.errors import RulebookUnavailable
from app.models import Department, RulebookVersion, utcnow
from app.rulebook import Problem, Rulebook, check_rulebook, load_rulebook_from_texts

log = logging.getLogger(__name__)
EXTENSION_KEY = "citypoints.rulebooks"


@dataclass
class RulebookState:
    """What is in force, and what happened at the last attempt to load the rules directory."""

    rulebook: Rulebook | None = None
    source: str = ""  # "rules directory" or "database (last good)"
    loaded_at: datetime | None = None
    problems: list[Problem] = field(default_factory=list)  # of the last refused attempt
    refused_at: datetime | None = None


def store_rulebook(session: Session, rulebook: Rulebook, *, loaded_by: str, source: str) -> bool:
    """Store `rulebook` if its fingerprint is new; return True if it was stored now."""
    exists = session.execute(
        select(RulebookVersion.id).where(RulebookVersion.fingerprint == rulebook.fingerprint)
    ).first()
    if exists:
        return False
    sync_departments(session, rulebook)
    session.add(
        RulebookVersion(
            fingerprint=rulebook.fingerprint,
            loaded_by=loaded_by,
            source=source,
            files_json=json.dumps(dict(rulebook.files), sort_keys=True, ensure_ascii=False),
        )
    )
    session.commit()
    return True


def sync_departments(session: Session, rulebook: Rulebook) -> None:
    """Add the rulebook's departments to the database and keep their titles current."""
    for department in rulebook.departments:
        row = session.get(Department, department.code)
        if row is None:
            session.add(Department(code=department.code, title=department.title))
        elif row.title != department.title:
            row.title = department.title
    session.flush()


def last_stored_rulebook(session: Session) -> Rulebook | None:
    """Return the rulebook most recently put in force, re-loaded from its stored files."""
    row = session.execute(
        select(RulebookVersion).order_by(RulebookVersion.id.desc()).limit(1)
    ).scalar_one_or_none()
    if row is None:
        return None
    return load_rulebook_from_texts(json.loads(row.files_json))


def stored_rulebook(session: Session, fingerprint: str) -> Rulebook | None:
    """Return the stored rulebook with `fingerprint`, or None."""
    row = session.execute(
        select(RulebookVersion).where(RulebookVersion.fingerprint == fingerprint)
    ).scalar_one_or_none()
    return load_rulebook_from_texts(json.loads(row.files_json)) if row else None


class RulebookRegistry:
    """Holds the rulebook in force for one app; reloads on demand, keeps the last good one."""

    def __init__(self, rules_dir: str, session_factory):
        self.rules_dir = rules_dir
        self._session_factory = session_factory
        self._lock = threading.Lock()
        self.state = RulebookState()

    @classmethod
    def init_app(cls, app) -> None:
        """Attach a registry to `app` (nothing is read until the rulebook is first needed)."""
        from app.db import session_scope

        app.extensions[EXTENSION_KEY] = cls(
            app.config["RULES_DIR"], lambda: session_scope(app)
        )

    def current(self) -> Rulebook:
        """Return the rulebook in force, loading it on first use."""
        if self.state.rulebook is None:
            self.reload()
        if self.state.rulebook is None:
            raise RulebookUnavailable(
                "no valid rulebook: the rules directory has errors and none was stored before",
                details=[str(p) for p in self.state.problems],
            )
        return self.state.rulebook

    def reload(self, *, loaded_by: str = "system") -> RulebookState:
        """Load the rules directory; put it in force if valid, else keep the last good one."""
        with self._lock:
            result = check_rulebook(self.rules_dir)
            if result.ok and result.rulebook is not None:
                self.state = RulebookState(
                    rulebook=result.rulebook, source="rules directory", loaded_at=utcnow()
                )
                try:
                    with self._session_factory() as session:
                        store_rulebook(
                            session, result.rulebook, loaded_by=loaded_by, source=self.rules_dir
                        )
                except Exception:  # the schema may not exist yet (before `db upgrade`)
                    log.warning("rulebook %s not stored: database not ready", result.rulebook.fingerprint[:12])
                return self.state
            log.error(
                "rulebook in %s refused, %d problem(s); keeping the last good one:\n%s",
                self.rules_dir,
                len(result.problems),
                "\n".join(str(p) for p in result.problems),
            )
            fallback = self.state.rulebook
            source = self.state.source
            if fallback is None:
                try:
                    with self._session_factory() as session:
                        fallback = last_stored_rulebook(session)
                        source = "database (last good)"
                except Exception:
                    fallback = None
            self.state = RulebookState(
                rulebook=fallback,
                source=source,
                loaded_at=self.state.loaded_at or (utcnow() if fallback else None),
                problems=list(result.problems),
                refused_at=utcnow(),
            )
            return self.state
