"""The rulebook in force: loaded from the rules directory, refused when broken, and
stored in the database with its fingerprint so any record can name the exact rulebook."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from app import clock
from app.errors import RulebookUnavailable
from app.models import Department, RulebookVersion, utcnow
from app.rulebook import (
    Limits,
    Problem,
    Rulebook,
    check_rulebook,
    first_day,
    load_rulebook_from_texts,
)
from app.services.locks import begin_write
from app.services.transaction import transaction

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
    loaded_by: str = ""
    warnings: list[Problem] = field(default_factory=list)  # of the rulebook in force
    tests: str = ""  # the summary of its rule tests


def rule_limits(config: Mapping[str, Any]) -> Limits:
    """Return the limits on reading a rulebook that the settings (RULES_MAX_*) give."""
    default = Limits()
    return Limits(file_bytes=int(config.get("RULES_MAX_FILE_BYTES") or default.file_bytes),
                  total_bytes=int(config.get("RULES_MAX_BYTES") or default.total_bytes),
                  yaml_nodes=int(config.get("RULES_MAX_YAML_NODES") or default.yaml_nodes),
                  yaml_aliases=int(config.get("RULES_MAX_YAML_ALIASES")
                                   or default.yaml_aliases))


def store_rulebook(session: Session, rulebook: Rulebook, *, loaded_by: str, source: str) -> bool:
    """Store `rulebook` in the caller's transaction if its fingerprint is new; return True if
    it was stored now.

    Call it before the use case's first write. Two processes storing the same new rulebook
    take turns: the second waits for the first's transaction and then finds it stored, so
    neither fails on the unique fingerprint.
    """
    if _is_stored(session, rulebook.fingerprint):
        return False
    begin_write(session, "rulebooks")
    if _is_stored(session, rulebook.fingerprint):  # stored by another while we waited
        return False
    with transaction(session):
        sync_departments(session, rulebook)
        session.add(
            RulebookVersion(
                fingerprint=rulebook.fingerprint,
                loaded_by=loaded_by,
                source=source,
                files_json=json.dumps(dict(rulebook.files), sort_keys=True, ensure_ascii=False),
            )
        )
        session.flush()
    return True


def _is_stored(session: Session, fingerprint: str) -> bool:
    return session.execute(
        select(RulebookVersion.id).where(RulebookVersion.fingerprint == fingerprint)
    ).first() is not None


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
    """Holds the rulebook in force for one app; reloads on demand, keeps the last good one.

    A reload reads the rules directory and puts it in force only if it passes `rules check`
    and its own rule tests (`<rules>/tests/*.yaml`); otherwise the last good rulebook stays.
    Either way an event is logged in the database (rulebook_event), and every process
    follows the latest rulebook put in force there (at most `sync_seconds` late), so a
    reload in one worker or in the scheduler reaches every worker. A reload is asked for
    by `reload()` (the rule author's button, the nightly run) or, safely, by SIGHUP.
    """

    def __init__(self, rules_dir: str, session_factory, *, sync_seconds: float | None = 10.0,
                 limits: Limits | None = None):
        self.rules_dir = rules_dir
        self.limits = limits or Limits()
        self._session_factory = session_factory
        self._lock = threading.Lock()
        self.state = RulebookState()
        self.sync_seconds = sync_seconds
        self._synced_at = time.monotonic()
        self._event_id = 0  # the newest in-force event this process follows
        self._reload_requested = False
        self._today: tuple[tuple[str, date], Rulebook] | None = None
        self._today_read = 0.0

    @classmethod
    def init_app(cls, app) -> None:
        """Attach a registry to `app` (nothing is read until the rulebook is first needed)."""
        from app.db import session_scope

        registry = cls(app.config["RULES_DIR"], lambda write=False: session_scope(app, write=write),
                       sync_seconds=app.config.get("RULEBOOK_SYNC_SECONDS", 10.0),
                       limits=rule_limits(app.config))
        app.extensions[EXTENSION_KEY] = registry
        if app.config.get("RELOAD_ON_SIGHUP", True):
            install_sighup(registry)

    def request_reload(self) -> None:
        """Ask for a reload at the next use (safe to call from a signal handler)."""
        self._reload_requested = True

    def current(self) -> Rulebook:
        """Return the rulebook in force, loading it on first use."""
        if self._reload_requested:
            self._reload_requested = False
            self.reload(loaded_by="signal:SIGHUP")
        elif self.state.rulebook is None:
            self.reload()
        else:
            self.follow()
        if self.state.rulebook is None:
            raise RulebookUnavailable(
                "no valid rulebook: the rules directory has errors and none was stored before",
                details=[str(p) for p in self.state.problems],
            )
        return self.state.rulebook

    def reload(self, *, loaded_by: str = "system", without_tests: bool = False) -> RulebookState:
        """Load the rules directory; put it in force if valid, else keep the last good one.

        A directory without rule tests is refused, unless `without_tests` (an admin's
        decision, audited), or it is the rulebook already in force, or the database holds
        no rulebook yet (there is none to keep in force).
        """
        from app.ruletests import run_rule_tests_in

        with self._lock:
            result = check_rulebook(self.rules_dir, limits=self.limits)
            problems = list(result.problems)
            tests = None
            untested = ""
            if result.ok and result.rulebook is not None:
                try:
                    tests = run_rule_tests_in(result.rulebook, self.rules_dir,
                                              limits=self.limits)
                    problems = tests.as_problems()
                except Exception as exc:  # a bug in a test run must not take the app down
                    problems = [Problem(self.rules_dir, 0, f"the rule tests could not run: "
                                                           f"{type(exc).__name__}: {exc}")]
                if tests is not None and not tests.files and not problems:
                    untested = "admin" if without_tests else self._untested_accepted(
                        result.rulebook.fingerprint)
                    if not untested:
                        problems = [Problem(
                            f"{self.rules_dir.rstrip('/')}/tests", 0,
                            "no rule tests: write them in tests/*.yaml (a rulebook without "
                            "them is refused unless an admin puts it in force without tests: "
                            "`flask rules reload --without-tests`, or the checkbox on the "
                            "rule authors' page)")]
                if not problems:
                    problems = self._scheduling_problems(result.rulebook)
            if not problems:
                self.state = RulebookState(
                    rulebook=result.rulebook, source="rules directory", loaded_at=utcnow(),
                    loaded_by=loaded_by, warnings=list(result.warnings),
                    tests=tests.summary() if tests and tests.files else "")
                self._put_in_force(result.rulebook, loaded_by=loaded_by,
                                   warnings=len(result.warnings), tests=self.state.tests,
                                   untested=untested)
                return self.state
            log.error(
                "rulebook in %s refused, %d problem(s); keeping the last good one:\n%s",
                self.rules_dir,
                len(problems),
                "\n".join(str(p) for p in problems),
            )
            fallback = self.state.rulebook
            source = self.state.source
            if fallback is None:
                try:
                    with self._session_factory() as session:
                        fallback = last_good_rulebook(session)
                        source = "database (last good)"
                except Exception:
                    fallback = None
            self.state = RulebookState(
                rulebook=fallback,
                source=source,
                loaded_at=self.state.loaded_at or (utcnow() if fallback else None),
                loaded_by=self.state.loaded_by,
                problems=problems,
                refused_at=utcnow(),
                warnings=self.state.warnings,
                tests=self.state.tests,
            )
            self._log_refusal(problems, loaded_by=loaded_by,
                              fingerprint=result.rulebook.fingerprint if result.rulebook else None)
            return self.state

    def _untested_accepted(self, fingerprint: str) -> str:
        """Return why a rulebook without rule tests may go in force without an admin's word
        ("in force": it already is; "first": the database holds none), else ""."""
        from app.services.rulebooks.history import IN_FORCE, latest_event

        try:
            with self._session_factory() as session:
                event = latest_event(session, IN_FORCE)
                if event is not None:
                    return "in force" if event.fingerprint == fingerprint else ""
                stored = session.execute(select(RulebookVersion.id).limit(1)).first()
                return "" if stored is not None else "first"
        except Exception:  # no schema yet (before `db upgrade`): nothing is in force
            return "first"

    def _scheduling_problems(self, rulebook: Rulebook) -> list[Problem]:
        from app.services.rulebooks.in_force import scheduling_problems

        try:
            with self._session_factory() as session:
                return scheduling_problems(session, rulebook, today=clock.today())
        except Exception as error:  # no schema yet (before `db upgrade`): nothing scheduled
            log.warning("scheduled rulebooks not read: %s", str(error).splitlines()[0])
            return []

    def in_force_today(self) -> Rulebook:
        """Return the rulebook in force today: the one put in force last, unless that one (or
        another) is scheduled from a later day. Read again at most every `sync_seconds`."""
        rulebook = self.current()
        from app.services.rulebooks.in_force import in_force_on, remember

        key = (rulebook.fingerprint, clock.today())
        fresh = self.sync_seconds is not None and \
            time.monotonic() - self._today_read < self.sync_seconds
        if self._today is not None and self._today[0] == key and (fresh or self.sync_seconds
                                                                  is None):
            return self._today[1]
        remember(rulebook)
        try:
            with self._session_factory() as session:
                found = in_force_on(session, rulebook, key[1]).rulebook
        except Exception:  # no schema yet: the rulebook loaded is all there is
            found = rulebook
        self._today, self._today_read = (key, found), time.monotonic()
        return found

    def _put_in_force(self, rulebook: Rulebook, *, loaded_by: str, warnings: int,
                      tests: str, untested: str = "") -> None:
        from app.services.audit import chain as audit
        from app.services.rulebooks.history import IN_FORCE, REFUSED, latest_event, record_event
        from app.services.rulebooks.in_force import was_cancelled

        recorded = False
        try:
            with self._session_factory(write=True) as session, transaction(session):
                store_rulebook(session, rulebook, loaded_by=loaded_by, source=self.rules_dir)
                if untested == "admin":
                    audit.append(session, actor=loaded_by, action="rulebook.without_tests",
                                 target=rulebook.fingerprint,
                                 details={"source": self.rules_dir})
                latest = latest_event(session, IN_FORCE)
                refused = latest_event(session, REFUSED)
                # A new rulebook, or a good reload after a refused one, is worth a line.
                # So is a rulebook scheduled again after its schedule was cancelled.
                if latest is None or latest.fingerprint != rulebook.fingerprint or (
                        refused is not None and refused.id > latest.id) or \
                        was_cancelled(session, rulebook.fingerprint):
                    previous = latest.fingerprint if latest else None
                    latest = record_event(
                        session, action=IN_FORCE, actor=loaded_by, source=self.rules_dir,
                        fingerprint=rulebook.fingerprint,
                        details={"previous": previous, "warnings": warnings, "tests": tests,
                                 **({"without_tests": untested} if untested else {})})
                    _audit_put_in_force(session, rulebook, actor=loaded_by, previous=previous,
                                        source=self.rules_dir)
                    recorded = True
            self._event_id = latest.id  # once committed
            self._synced_at = time.monotonic()
        except Exception as error:  # the schema may not exist yet (before `db upgrade`)
            log.warning("rulebook %s not stored in the database: %s", rulebook.fingerprint[:12],
                        str(error).splitlines()[0])
            return
        today = clock.today()
        if recorded and first_day(rulebook, put_in_force_on=today) > today:
            self._announce(rulebook, actor=loaded_by, today=today)

    def _announce(self, rulebook: Rulebook, *, actor: str, today: date) -> None:
        """Tell the subjects a scheduled rulebook will move, before it bites."""
        from app.services.rulebooks.announce import announce_scheduled

        try:
            with self._session_factory(write=True) as session:
                announce_scheduled(session, rulebook=rulebook, today=today, actor=actor)
        except Exception:  # the rulebook stays scheduled; the failure is for the log
            log.exception("the subjects rulebook %s will move were not notified",
                          rulebook.fingerprint[:12])

    def _log_refusal(self, problems: list[Problem], *, loaded_by: str,
                     fingerprint: str | None) -> None:
        from app.services.rulebooks.history import REFUSED, record_event

        try:
            with self._session_factory(write=True) as session, transaction(session):
                record_event(session, action=REFUSED, actor=loaded_by, source=self.rules_dir,
                             fingerprint=fingerprint,
                             details={"problems": [str(p) for p in problems[:500]]})
        except Exception as error:
            log.warning("refusal not logged in the database: %s", str(error).splitlines()[0])

    def follow(self, *, force: bool = False) -> bool:
        """Put in force the rulebook another process put in force since; return True if so."""
        from app.services.rulebooks.history import IN_FORCE, latest_event

        if not force and (self.sync_seconds is None or
                          time.monotonic() - self._synced_at < self.sync_seconds):
            return False
        if not self._lock.acquire(blocking=False):
            return False  # a reload is under way here; it decides
        try:
            self._synced_at = time.monotonic()
            with self._session_factory() as session:
                event = latest_event(session, IN_FORCE)
                if event is None or event.id <= self._event_id:
                    return False
                self._event_id = event.id
                if self.state.rulebook is not None and \
                        event.fingerprint == self.state.rulebook.fingerprint:
                    return False
                rulebook = stored_rulebook(session, event.fingerprint or "")
            if rulebook is None:
                return False
            self.state = RulebookState(
                rulebook=rulebook, source=f"database (put in force from {event.source})",
                loaded_at=event.at, loaded_by=event.actor)
            log.info("rulebook %s put in force elsewhere by %s; following it",
                     rulebook.fingerprint[:12], event.actor)
            return True
        except Exception:  # no table yet, or the database is away: keep what we have
            return False
        finally:
            self._lock.release()


def _audit_put_in_force(session: Session, rulebook: Rulebook, *, actor: str,
                        previous: str | None, source: str) -> None:
    """Audit a rulebook put in force: "rulebook.in_force" from today, or "rulebook.schedule"
    when its `in_force_from` is a later day (the caller's transaction)."""
    from app.services.audit import chain as audit

    today = clock.today()
    day = first_day(rulebook, put_in_force_on=today)
    action = "rulebook.schedule" if day > today else "rulebook.in_force"
    audit.append(session, actor=actor, action=action, target="rulebook",
                 details={"fingerprint": rulebook.fingerprint, "in_force_from": day.isoformat(),
                          "previous": previous, "source": source})


def last_good_rulebook(session: Session) -> Rulebook | None:
    """Return the rulebook last put in force (by a reload event), else the last one stored."""
    from app.services.rulebooks.history import IN_FORCE, latest_event

    event = latest_event(session, IN_FORCE)
    if event is not None and event.fingerprint:
        found = stored_rulebook(session, event.fingerprint)
        if found is not None:
            return found
    return last_stored_rulebook(session)


# SIGHUP asks every registry of this process to reload at its next use. The handler only
# sets a flag: reloading inside a signal handler could deadlock on the registry's lock.
_hup_registries: weakref.WeakSet = weakref.WeakSet()
_hup_installed = False


def install_sighup(registry: RulebookRegistry) -> bool:
    """Make SIGHUP ask `registry` to reload; return False where that cannot be done safely.

    Only from the main thread, and never over another program's handler (a server such as
    gunicorn's master handles SIGHUP itself: it restarts its workers, which reload).
    """
    global _hup_installed
    if not hasattr(signal, "SIGHUP") or threading.current_thread() is not threading.main_thread():
        return False
    if not _hup_installed:
        if signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, signal.SIG_IGN):
            return False
        signal.signal(signal.SIGHUP, _on_sighup)
        _hup_installed = True
    _hup_registries.add(registry)
    return True


def _on_sighup(_signum, _frame) -> None:
    try:
        for registry in list(_hup_registries):
            registry.request_reload()
    except RuntimeError:  # the set changed under us: the next SIGHUP will do
        pass
