"""An official's look at the lists: a list that is not public, or the flagged subjects, is
read and the look written to the audit trail in one transaction."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from app.models import ListEntry, Subject
from app.rulebook import Rulebook
from app.rulebook.model import ListDef
from app.services.audit import chain as audit
from app.services.lists.queries import FlaggedSubject, entries_on, flagged_subjects
from app.services.transaction import atomic


@atomic
def open_list(session: Session, *, rulebook: Rulebook, list_def: ListDef, today: date,
              include_ended: bool, viewer: str) -> list[tuple[ListEntry, Subject]]:
    """Return a list's entries (see entries_on); audit `viewer`'s look unless it is public."""
    rows = entries_on(session, rulebook=rulebook, list_code=list_def.code, today=today,
                      include_ended=include_ended)
    if not list_def.public:
        audit.append(session, actor=viewer, action="list.view", target=f"list:{list_def.code}",
                     details={"entries": len(rows)})
    return rows


@atomic
def open_flags(session: Session, *, rulebook: Rulebook, viewer: str) -> list[FlaggedSubject]:
    """Return the flagged subjects (see flagged_subjects); audit `viewer`'s look."""
    flagged = flagged_subjects(session, rulebook=rulebook)
    audit.append(session, actor=viewer, action="flags.view", target="flags",
                 details={"flagged": len(flagged)})
    return flagged
