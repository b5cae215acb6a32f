"""The words of the scheme that pages show from stored codes, and the web's fixed messages,
in the page's language.

Codes (roles, kinds, states) stay English in the database, the CLI and the JSON API; pages
show them through `term()`. Messages of the services stay English too (they are shared with
the CLI and the API); `web_message()` translates the fixed ones the web layer raises itself.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

from app.web.i18n import DEFAULT, current_language

TERMS = {
    # roles
    "resident": _l("resident"),
    "recorder": _l("recorder"),
    "reviewer": _l("reviewer"),
    "rule-author": _l("rule author"),
    "auditor": _l("auditor"),
    "admin": _l("admin"),
    # subjects
    "person": _l("person"),
    "organisation": _l("organisation"),
    # measures and lists
    "benefit": _l("benefit"),
    "restriction": _l("restriction"),
    "blacklist": _l("blacklist"),
    "redlist": _l("redlist"),
    "watchlist": _l("watchlist"),
    # a record's state
    "counting": _l("counting"),
    "disputed": _l("disputed"),
    "voided": _l("voided"),
    "annulled": _l("annulled"),
    "repaired": _l("repaired"),
    "lapsed": _l("lapsed"),
    "future": _l("future"),
    # objection outcomes (of the record)
    "upheld": _l("upheld"),
    # nightly runs
    "ok": _l("ok"),
    "running": _l("running"),
    "failed": _l("failed"),
    "refused": _l("refused"),
    "abandoned": _l("abandoned"),
    # notices
    "record": _l("record"),
    "tier_change": _l("tier change"),
    "list_entry": _l("list entry"),
    "list_end": _l("list entry ended"),
    "measure_pending": _l("measure pending"),
    "rulebook_change": _l("rule change"),
    "rulebook_cancelled": _l("rule change cancelled"),
    "objection_decision": _l("objection decision"),
    "record_lapsing": _l("record lapsing"),
    "record_repaired": _l("record repaired"),
    "representative": _l("legal representative named"),
    # cap periods
    "year": _l("year"),
    "month": _l("month"),
    # token states
    "expired": _l("expired"),
}

# Fixed messages raised by the web layer (error pages); the English text is the key, as it is
# also what the JSON API answers.
MESSAGES = {
    "you may not open this page": _l("you may not open this page"),
    "there is no such page": _l("there is no such page"),
    "that method is not allowed here": _l("that method is not allowed here"),
    "the upload is too large": _l("the upload is too large"),
    "the form expired or was sent from elsewhere; go back, reload it and send it again": _l(
        "the form expired or was sent from elsewhere; go back, reload it and send it again"),
    "the form expired; reload the page and press the button again": _l(
        "the form expired; reload the page and press the button again"),
    "Please log in to see that page.": _l("Please log in to see that page."),
    "user name or password is wrong": _l("user name or password is wrong"),
}

# Service messages with a number in them that login and other pages show as they are.
PATTERNS = (
    (re.compile(r"^too many attempts; wait (?P<seconds>[0-9]+) seconds before trying again$"),
     _l("too many attempts; wait %(seconds)s seconds before trying again")),
)


def term(word: str | None) -> str:
    """Return the scheme's word for the code `word` in the page's language (itself if unknown)."""
    if word is None:
        return ""
    if current_language() == DEFAULT:
        return word  # English pages show the codes as they are written
    found = TERMS.get(word)
    return str(found) if found is not None else word


def web_message(message: str) -> str:
    """Return a fixed web message in the page's language; other messages as they are."""
    found = MESSAGES.get(message)
    if found is not None:
        return str(found)
    for pattern, text in PATTERNS:
        match = pattern.match(message)
        if match:
            return str(text) % match.groupdict()
    return message
