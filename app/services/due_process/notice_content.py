"""The content of a notice: the values its words are made of, kept with it (notice.content)
so that notice_render reads it in any language, the same every time.

Texts of the rulebook (titles of rules, measures, lists and departments, legal bases) are
copied in each language when the notice is made, not looked up when it is read; reasons of
the evaluator are kept as their code and values (app.standing.because).
"""

from __future__ import annotations

from datetime import date

from app.models import ListEntry
from app.rulebook import Rulebook
from app.rulebook.model import TEXT_LANGUAGES, Duration, ListDef
from app.services.due_process import notice_texts
from app.standing.because import Because

OTHER_LANGUAGES = tuple(language for language in TEXT_LANGUAGES if language != "en")


def duration_code(duration: Duration | None) -> str | None:
    """Write a duration as the rule files do ("30d"), or None."""
    return f"{duration.count}{duration.unit}" if duration is not None else None


def in_other_languages(item, key: str, name: str | None = None) -> dict:
    """Return the text `key` ("title", "legal_basis"...) of a rulebook item in each language
    other than English, keyed `{name}_{language}` ("" where unwritten or no item: the English
    one is read then). A notice keeps these so it reads the same under a later rulebook."""
    out = {}
    for language in OTHER_LANGUAGES:
        found = ""
        if item is not None and key == "title":
            found = dict(getattr(item, "titles", ())).get(language, "")
        elif item is not None:
            found = dict(dict(getattr(item, "texts", ())).get(key, ())).get(language, "")
        out[f"{name or key}_{language}"] = found
    return out


def department_texts(rulebook: Rulebook, code: str, name: str = "department") -> dict:
    """A department's title in English (its code if untitled) and in the other languages."""
    return {name: notice_texts.department_title(rulebook, code),
            **in_other_languages(rulebook.department(code), "title", name)}


def list_entry_content(rulebook: Rulebook, entry: ListEntry, list_def: ListDef | None, *,
                       until: date | None) -> dict:
    """The values of the notice of a list entry (see notice_texts.list_entry_notice); `until`
    is the first day it no longer counts."""
    objections = (list_def.objections if list_def is not None and list_def.objections
                  else rulebook.scheme.objections)
    own_basis = entry.legal_basis  # the department's own words, in one language
    return {
        "list": list_def.title if list_def is not None and list_def.title else entry.list_code,
        **in_other_languages(list_def, "title", "list"),
        "list_kind": list_def.kind if list_def is not None else "list",
        "code": entry.list_code, **department_texts(rulebook, entry.department_code),
        "entered_on": entry.entered_on.isoformat(),
        "until": until.isoformat() if until else None, "decision": entry.decision_ref or "",
        "legal_basis": own_basis or (list_def.legal_basis if list_def else "") or "",
        **(in_other_languages(None, "legal_basis") if own_basis
           else in_other_languages(list_def, "legal_basis")),
        "measures": [{"code": m.code, "kind": m.kind, "title": m.title,
                      **in_other_languages(m, "title"), "notice": duration_code(m.notice)}
                     for m in rulebook.measures if entry.list_code in m.when.lists],
        "public": bool(list_def is not None and list_def.public),
        "object_until": objections.window.after(entry.entered_on).isoformat(),
        "window": duration_code(objections.window),
        "decide_within": duration_code(objections.decide_within)}


def because_content(rulebook: Rulebook, because: Because) -> dict:
    """A reason as the content of a notice: its code and values (as the JSON API gives them),
    with the titles of the list and the department it names in each language."""
    out: dict = because.as_json()
    out["values"] = {k: v if v is None or isinstance(v, (str, int, bool, list)) else str(v)
                     for k, v in out["values"].items()}  # a flag's window may be a Duration
    values = because.v
    if values.get("list"):
        list_def = rulebook.list_def(str(values["list"]))
        out["list_title"] = (list_def.title if list_def is not None and list_def.title
                             else str(values.get("list_title") or values["list"]))
        out.update(in_other_languages(list_def, "title", "list_title"))
    if values.get("department"):
        out.update(department_texts(rulebook, str(values["department"])))
    return out
