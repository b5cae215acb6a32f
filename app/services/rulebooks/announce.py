"""Announce a rulebook before it bites: simulate it on its first day against the rulebook
that would be in force that day without it, and tell every subject it moves.

The same comparison is what a rule author sees before confirming a reload.
"""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from app.models import Notice, RulebookEvent
from app.rulebook import Rulebook, RulebookTimeline, first_day
from app.rulebook.change_words import english
from app.rulebook.diff import Change, rulebook_changes
from app.services.audit import chain as audit
from app.services.due_process.notice_content import in_other_languages
from app.services.due_process.notices import NewNotice, add_notices
from app.services.locks import begin_write
from app.services.rulebooks.in_force import IN_FORCE, put_in_force_entries
from app.services.rulebooks.simulate import SimulationReport, SubjectChange, simulate
from app.services.transaction import transaction

log = logging.getLogger(__name__)
KIND = "rulebook_change"
CANCELLED_KIND = "rulebook_cancelled"
CHANGES_IN_NOTICE = 12  # the notice lists this many of the rulebook's changes


def replaced_on_first_day(session: Session, *, current: Rulebook, candidate: Rulebook,
                          today: date) -> tuple[date, Rulebook]:
    """Return the first day of `candidate` (put in force today) and the rulebook that would
    be in force on that day without it (`current` when nothing was put in force)."""
    day = first_day(candidate, put_in_force_on=today)
    others = [entry for _, entry in put_in_force_entries(session)
              if entry.fingerprint != candidate.fingerprint]
    timeline = RulebookTimeline(others) if others else RulebookTimeline.always(current)
    return day, timeline.on(day)


def simulate_first_day(session: Session, *, current: Rulebook, candidate: Rulebook,
                       today: date, actor: str, sample: int = 20, everyone: bool = False,
                       log_it: bool = True, source: str = "") -> SimulationReport:
    """Simulate `candidate` on its first day against the rulebook in force that day."""
    day, before = replaced_on_first_day(session, current=current, candidate=candidate,
                                        today=today)
    return simulate(session, in_force=before, candidate=candidate, as_of=day, actor=actor,
                    source=source, sample=sample, log_it=log_it, everyone=everyone)


def change_notice(*, day: date, fingerprint: str, change: SubjectChange,
                  changes: tuple[Change, ...]) -> tuple[str, str]:
    """The notice that a scheduled rule change will move the subject on its first day, in
    English (notice_render words it in other languages from change_content)."""
    heading = f"The scheme's rules change on {day.isoformat()}: your standing will change"
    lines = [f"From {day.isoformat()} a new rulebook ({fingerprint[:12]}) comes into force. "
             "Judged on your records as they stand today, on that day:"]
    if change.tier_before != change.tier_after:
        lines.append(f"- your tier moves from {change.tier_before or 'not scored'} to "
                     f"{change.tier_after or 'not scored'}")
    lines += [f"- {code} will apply to you" for code in change.gained]
    lines += [f"- {code} will no longer apply to you" for code in change.lost]
    lines.append("What the new rulebook changes:")
    lines += [f"- {english(c)}" for c in changes[:CHANGES_IN_NOTICE]]
    if len(changes) > CHANGES_IN_NOTICE:
        lines.append(f"- and {len(changes) - CHANGES_IN_NOTICE} more (see the scheme's page)")
    lines.append("Until then the rules in force today apply. A measure with a notice period "
                 "takes effect only after that period, counted from the change's first day.")
    return heading, "\n".join(lines)


def change_content(rulebook: Rulebook, *, day: date, change: SubjectChange,
                   changes: tuple[Change, ...]) -> dict:
    """The values of change_notice, with the measures' titles in each language and the
    rulebook's changes as their codes and values (app.rulebook.diff.Change), so that each
    language words them. (Notices made before kept the changes as English sentences.)"""

    def measures(codes: list[str]) -> list[dict]:
        out = []
        for code in codes:
            measure = rulebook.measure(code)
            out.append({"code": code, "title": measure.title if measure is not None else "",
                        **in_other_languages(measure, "title")})
        return out

    return {"day": day.isoformat(), "fingerprint": rulebook.fingerprint[:12],
            "tier_before": change.tier_before, "tier_after": change.tier_after,
            "gained": measures(change.gained), "lost": measures(change.lost),
            "changes": [c.to_json() for c in changes[:CHANGES_IN_NOTICE]],
            "more": max(0, len(changes) - CHANGES_IN_NOTICE)}


def announce_scheduled(session: Session, *, rulebook: Rulebook, today: date,
                       actor: str) -> int:
    """Notify every subject the scheduled `rulebook` will move on its first day (once per
    scheduling); return how many notices were made. Runs its own transactions."""
    event_id = session.execute(
        select(RulebookEvent.id).where(RulebookEvent.action == IN_FORCE,
                                       RulebookEvent.fingerprint == rulebook.fingerprint)
        .order_by(RulebookEvent.id.desc()).limit(1)).scalar()
    if event_id is None:
        return 0
    day, before = replaced_on_first_day(session, current=rulebook, candidate=rulebook,
                                        today=today)
    report = simulate(session, in_force=before, candidate=rulebook, as_of=day, actor=actor,
                      sample=0, log_it=False, everyone=True)
    changes = rulebook_changes(before, rulebook)  # report.changes, as data
    notices = []
    for subject_id, change in sorted((report.everyone or {}).items()):
        title, body = change_notice(day=day, fingerprint=rulebook.fingerprint, change=change,
                                    changes=changes)
        notices.append(NewNotice(subject_id=subject_id, kind=KIND,
                                 dedupe_key=f"rulebook:{event_id}:{subject_id}", title=title,
                                 body=body, content=change_content(
                                     rulebook, day=day, change=change, changes=changes)))
    with transaction(session):
        begin_write(session, "notices")
        made = add_notices(session, notices, today=today)
        audit.append(session, actor=actor, action="notices.rulebook", target="notices",
                     details={"fingerprint": rulebook.fingerprint,
                              "in_force_from": day.isoformat(), "subjects": len(notices),
                              "made": made})
    log.info("rulebook %s scheduled from %s: %d subject(s) notified", rulebook.fingerprint[:12],
             day, made)
    return made


def cancelled_notice(*, day: date, fingerprint: str, cancelled_on: date) -> tuple[str, str]:
    """The notice that a scheduled rule change the subject was told of will not come."""
    title = f"The rule change of {day.isoformat()} is cancelled"
    body = (f"The new rulebook ({fingerprint[:12]}) that was to come into force on "
            f"{day.isoformat()}, of which you were told, was cancelled on "
            f"{cancelled_on.isoformat()}. It will not come into force: the rules in force "
            "today still apply, and that change will not move your standing.")
    return title, body


def notify_cancelled(session: Session, *, event_id: int, fingerprint: str, day: date,
                     today: date) -> int:
    """Tell every subject who was told of the rulebook scheduled by in-force event `event_id`
    that it is cancelled, once each; return how many notices were made (the caller's
    transaction, which holds the notices' write lock)."""
    told = session.execute(
        select(Notice.subject_id).where(Notice.kind == KIND,
                                        Notice.dedupe_key.like(f"rulebook:{event_id}:%"))
        .order_by(Notice.subject_id)).scalars().all()
    title, body = cancelled_notice(day=day, fingerprint=fingerprint, cancelled_on=today)
    content = {"fingerprint": fingerprint[:12], "in_force_from": day.isoformat(),
               "cancelled_on": today.isoformat()}
    return add_notices(session, [
        NewNotice(subject_id=subject_id, kind=CANCELLED_KIND,
                  dedupe_key=f"rulebook_cancelled:{event_id}:{subject_id}", title=title,
                  body=body, content=content) for subject_id in told], today=today)
