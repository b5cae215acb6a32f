"""List entries: a department enters a subject on a list it keeps, or removes them early."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from app.errors import Forbidden, InvalidInput, NotFound
from app.models import ListEntry, Subject
from app.rulebook import Rulebook
from app.services import audit


def enter_on_list(session: Session, *, rulebook: Rulebook, list_code: str, subject_id: str,
                  department: str, entered_on: date, today: date, actor: str,
                  legal_basis: str = "", decision_ref: str = "",
                  external_ref: str | None = None) -> ListEntry:
    """Enter a subject on a list the department keeps; it ends by itself after `lasts`."""
    list_def = rulebook.list_def(list_code)
    if list_def is None:
        raise InvalidInput(f"unknown list {list_code!r}")
    if department not in list_def.departments:
        raise Forbidden(f"department {department} may not write to list {list_code} "
                        f"(kept by {', '.join(list_def.departments) or 'no department'})")
    if session.get(Subject, subject_id) is None:
        raise NotFound(f"no subject {subject_id} in the population register")
    if entered_on > today:
        raise InvalidInput(f"entered_on {entered_on} is in the future (today is {today})")
    entry = ListEntry(
        list_code=list_code, subject_id=subject_id, department_code=department,
        entered_on=entered_on,
        ends_on=list_def.lasts.after(entered_on) if list_def.lasts else None,
        legal_basis=legal_basis or list_def.legal_basis, decision_ref=decision_ref,
        external_ref=external_ref, created_by=actor,
    )
    session.add(entry)
    session.flush()
    audit.append(session, actor=actor, action="list.enter", subject_id=subject_id,
                 target=f"list_entry:{entry.id}",
                 details={"list": list_code, "entered_on": entered_on, "department": department})
    session.commit()
    return entry
