"""The message catalogues: complete, consistent, and compiled.

A fresh extraction of the code and templates must find nothing the Chinese catalogue lacks;
every translation keeps the placeholders and markup of its English text; and the committed
.mo (which the app loads, with no build step) is the compiled .po.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).parents[1]
TRANSLATIONS = ROOT / "app" / "translations"
PO = TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po"
MO = TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.mo"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}

PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
TAG = re.compile(r"</?([a-z]+)\b[^>]*>")


def _po():
    with open(PO, "rb") as fh:
        return read_po(fh, locale="zh")


def _fresh_extraction() -> set[str]:
    """Return the msgids (singular ones for plurals) that the code and templates use now."""
    with open(TRANSLATIONS / "babel.cfg", encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT / "app", method_map, options_map, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _forms(message) -> list[str]:
    return list(message.string) if isinstance(message.id, tuple) else [message.string]


def test_every_message_in_use_is_translated():
    catalogue = _po()
    translated = {
        (m.id[0] if isinstance(m.id, tuple) else m.id)
        for m in catalogue
        if m.id and all(_forms(m)) and "fuzzy" not in m.flags
    }
    missing = sorted(_fresh_extraction() - translated)
    assert not missing, (
        f"{len(missing)} messages are not translated into Chinese; run the commands in the "
        f"README's Translations section and translate them: {missing[:20]}"
    )


def test_no_fuzzy_and_no_empty_translation():
    catalogue = _po()
    assert not catalogue.fuzzy  # the header is not marked fuzzy either
    fuzzy = [m.id for m in catalogue if m.id and "fuzzy" in m.flags]
    empty = [m.id for m in catalogue if m.id and not all(_forms(m))]
    assert fuzzy == [] and empty == []


def test_the_catalogue_is_simplified_chinese_with_one_plural_form():
    catalogue = _po()
    assert str(catalogue.locale) == "zh"
    assert catalogue.num_plurals == 1
    ascii_only = [m.id for m in catalogue if m.id and not any(
        re.search(r"[\u3000-\u9fff\uff00-\uffef]", s) for s in _forms(m))]
    # Only punctuation-free codes may stay as they are.
    assert all(not re.search(r"[A-Za-z]{3,}", m if isinstance(m, str) else m[0])
               for m in ascii_only), ascii_only


@pytest.mark.parametrize("message", [m for m in _po() if m.id], ids=lambda m: str(m.id)[:40])
def test_placeholders_and_markup_are_kept(message):
    ids = message.id if isinstance(message.id, tuple) else (message.id,)
    wanted = set()
    for text in ids:
        wanted |= set(PLACEHOLDER.findall(text))
    tags = sorted(TAG.findall(ids[-1]))
    for form in _forms(message):
        got = set(PLACEHOLDER.findall(form))
        if isinstance(message.id, tuple):
            # One Chinese form serves every count, so it follows the plural English text.
            assert got == set(PLACEHOLDER.findall(ids[1])), (message.id, form)
        else:
            assert got == wanted, (message.id, form)
        assert sorted(TAG.findall(form)) == tags, (message.id, form)
        assert form.count("%") - form.count("%%") * 2 == len(PLACEHOLDER.findall(form)), form


def _entries(catalogue) -> dict:
    return {tuple(m.id) if isinstance(m.id, list | tuple) else m.id:
            tuple(m.string) if isinstance(m.string, list | tuple) else m.string
            for m in catalogue if m.id}


def test_the_committed_mo_is_the_compiled_po():
    catalogue = _po()
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    fresh = _entries(read_mo(compiled))
    with open(MO, "rb") as fh:
        committed = _entries(read_mo(fh))
    assert committed == fresh, (
        "app/translations/zh/LC_MESSAGES/messages.mo is out of date: run "
        "`.venv/bin/pybabel compile -d app/translations`"
    )
