"""The fingerprint follows meaning, stored texts re-load to the same rulebook, and no input
makes the loader raise anything but RulebookError."""

from __future__ import annotations

import copy
import hashlib
import json
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.rulebook import (
    RulebookError,
    canonical_json,
    check_rulebook,
    check_rulebook_texts,
    load_rulebook,
    load_rulebook_from_texts,
)

SCHEME = """
# The scheme.
scheme: fuzz-city
title: Fuzz city
starting_points: 1000
tiers:
  - {code: A, min: 1050}
  - {code: B, min: 960}
  - {code: C}
"""
SECTIONS = """
departments:
  - {code: court, title: Court}
  - {code: finance-bureau, title: Finance}
lists:
  - {code: defaulters, kind: blacklist, departments: [court], lasts: 2y}
  - {code: watch, kind: watchlist, flag: {entries: 2, within: 6m}}
measures:
  - code: BAN
    kind: restriction
    title: No tenders
    owner: finance-bureau
    legal_basis: Tendering Law, art. 53
    when: {tiers: [C], lists: [defaulters], flags: [watch]}
    notice: 7d
"""
TABLE = """
table: money
departments: [court]
rules:
  - code: FIN-1
    title: Unpaid judgment
    points: -50
    legal_basis: Civil Procedure Law
    expires_after: 2y
    effective: {until: 2023-12-31}
  - code: FIN-1
    title: Unpaid judgment
    points: -40
    legal_basis: Civil Procedure Law
    expires_after: 2y
    effective: {from: 2024-01-01}
    relief: true
  - {code: FIN-2, title: Paid early, points: 5, legal_basis: Rule 2, expires_after: 1y,
     cap: {points: 10, per: month}, repeat: {within: 1y, factor: 2}}
"""
BASE = {"scheme.yaml": SCHEME, "sections.yaml": SECTIONS, "conduct/money.yaml": TABLE}


def fingerprint(files: dict[str, str]) -> str:
    result = check_rulebook_texts(files)
    assert result.ok, [str(p) for p in result.problems]
    return result.rulebook.fingerprint


def test_base_is_valid():
    assert check_rulebook_texts(BASE).ok


# -- fingerprint ---------------------------------------------------------------------------------


def test_fingerprint_is_sha256_of_canonical_json():
    book = load_rulebook_from_texts(BASE)
    text = canonical_json(
        scheme=book.scheme,
        departments=book.departments,
        tables=book.tables,
        measures=book.measures,
        lists=book.lists,
    )
    assert book.fingerprint == hashlib.sha256(text.encode()).hexdigest()
    assert "line" not in json.loads(text)["departments"][0]


def test_fingerprint_ignores_comments_key_order_layout_and_file_split(tmp_path):
    original = fingerprint(BASE)
    departments, rest = SECTIONS.split("\nlists:\n")
    lists, measures = rest.split("\nmeasures:\n")
    rewritten = {
        # key order, comments, quoting and flow/block style changed; blank lines move rows
        "a/scheme.yml": """
            tiers: [{min: 1050, code: A}, {code: "B", min: 960}, {code: C}]  # tiers
            starting_points: 1000
            title: 'Fuzz city'
            requires_consent: false   # the default, written out
            scheme: fuzz-city
            objections: {window: 30d}
            """,
        # the sections split over three files, entries in another order
        "departments.yaml": departments,
        "lists.yaml": "lists:\n" + "\n".join(reversed(lists.splitlines())),
        "measures.yaml": "measures:\n" + measures,
        "conduct/money.yaml": TABLE.replace(
            "departments: [court]\n", "\n\ndepartments: [court]\n"
        ).replace("  - {code: FIN-2", "  # bonus\n  - {code: FIN-2"),
    }
    rewritten = {k: textwrap.dedent(v) for k, v in rewritten.items()}
    assert fingerprint(rewritten) == original
    swapped = {
        **BASE,
        "sections.yaml": SECTIONS.replace(
            "  - {code: court, title: Court}\n  - {code: finance-bureau, title: Finance}\n",
            "  - {code: finance-bureau, title: Finance}\n  - {code: court, title: Court}\n",
        ),
    }
    assert fingerprint(swapped) == original

    for relative, text in rewritten.items():  # and the same through a directory on disk
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    assert load_rulebook(tmp_path).fingerprint == original


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("conduct/money.yaml", "points: -40", "points: -41"),
        ("conduct/money.yaml", "title: Paid early", "title: Paid very early"),
        ("conduct/money.yaml", "{from: 2024-01-01}", "{from: 2024-01-02}"),
        ("conduct/money.yaml", "relief: true", "relief: false"),
        ("conduct/money.yaml", "legal_basis: Rule 2", "legal_basis: Rule 3"),
        ("conduct/money.yaml", "per: month", "per: year"),
        ("scheme.yaml", "starting_points: 1000", "starting_points: 1001"),
        ("scheme.yaml", "{code: C}", "{code: C, title: Low}"),
        ("scheme.yaml", "title: Fuzz city", "title: Fuzz city\nrequires_consent: true"),
        ("sections.yaml", "notice: 7d", "notice: 8d"),
        ("sections.yaml", "entries: 2", "entries: 3"),
        ("sections.yaml", "title: Court}", "title: Courts}"),
    ],
)
def test_fingerprint_changes_with_meaning(file, old, new):
    assert old in BASE[file]
    assert fingerprint({**BASE, file: BASE[file].replace(old, new)}) != fingerprint(BASE)


def test_tier_order_is_meaning():
    reordered = SCHEME.replace(
        "  - {code: A, min: 1050}\n  - {code: B, min: 960}\n",
        "  - {code: B, min: 1050}\n  - {code: A, min: 960}\n",
    )
    assert fingerprint({**BASE, "scheme.yaml": reordered}) != fingerprint(BASE)


# -- stored texts ----------------------------------------------------------------------------------


def test_files_are_stored_sorted_and_reload_to_the_same_rulebook(tmp_path):
    for relative, text in BASE.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    book = load_rulebook(tmp_path)
    assert book.files == tuple(sorted(BASE.items()))
    stored = json.dumps(dict(book.files), sort_keys=True)  # as the database keeps them
    again = load_rulebook_from_texts(json.loads(stored))
    assert again.fingerprint == book.fingerprint
    assert again == book and again.files == book.files
    assert again.versions("FIN-1")[1].source == book.versions("FIN-1")[1].source


def test_texts_problems_use_the_root_label():
    with pytest.raises(RulebookError) as caught:
        load_rulebook_from_texts({**BASE, "x.yaml": "lists: [\n"}, root_label="stored")
    assert str(caught.value.problems[0]).startswith("stored/x.yaml:2: YAML syntax error")
    assert [str(p) for p in check_rulebook_texts({}).problems] == [
        "rules: no rule files found (files ending in .yaml or .yml)"
    ]


# -- fuzzing: problems, never an exception -----------------------------------------------------

KEYS = [
    "scheme",
    "title",
    "starting_points",
    "tiers",
    "code",
    "min",
    "table",
    "rules",
    "points",
    "departments",
    "lists",
    "measures",
    "kind",
    "when",
    "flag",
    "flags",
    "entries",
    "within",
    "effective",
    "from",
    "until",
    "cap",
    "per",
    "repeat",
    "factor",
    "expires_after",
    "relief",
    "subjects",
    "owner",
    "legal_basis",
    "notice",
    "reaches",
    "objections",
    "x",
]
WORDS = [
    "A",
    "C",
    "court",
    "watch",
    "defaulters",
    "FIN-1",
    "2y",
    "0d",
    "30d",
    "2016-02-30",
    "2024-01-01",
    "year",
    "person",
    "watchlist",
    "restriction",
    "benefit",
    "-5",
    "",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats()
    | st.sampled_from(WORDS)
    | st.text(max_size=8)
)
structures = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


def assert_only_problems(files: dict[str, Any]) -> None:
    result = check_rulebook_texts(files)
    assert result.ok == (result.rulebook is not None)
    for problem in result.problems:
        assert "internal error" not in problem.message, str(problem)
        assert problem.file.startswith("rules") and problem.line >= 0
    try:
        load_rulebook_from_texts(files)
    except RulebookError as error:
        assert error.problems == result.problems


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.sampled_from(sorted(BASE)), st.text())
def test_random_text_gives_problems_not_exceptions(file, text):
    assert_only_problems({**BASE, file: text})


@FUZZ
@given(st.sampled_from(sorted(BASE)), structures)
def test_random_yaml_structures_give_problems_not_exceptions(file, value):
    assert_only_problems({**BASE, file: yaml.safe_dump(value, allow_unicode=True)})


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@FUZZ
@given(st.data())
def test_mutated_valid_rulebook_gives_problems_not_exceptions(data):
    files = {name: yaml.safe_load(text) for name, text in BASE.items()}
    for _ in range(data.draw(st.integers(1, 3))):
        name = data.draw(st.sampled_from(sorted(files)))
        tree = copy.deepcopy(files[name])
        path = data.draw(st.sampled_from(_paths(tree)))
        if not path:
            tree = data.draw(structures)
        else:
            parent = tree
            for step in path[:-1]:
                parent = parent[step]
            if data.draw(st.booleans()):
                del parent[path[-1]]
            else:
                parent[path[-1]] = data.draw(structures)
        files[name] = tree
    assert_only_problems(
        {
            name: yaml.safe_dump(tree, allow_unicode=True, default_flow_style=False)
            for name, tree in files.items()
        }
    )


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=200), st.text(alphabet="abc/.", min_size=1, max_size=8))
def test_random_bytes_on_disk_give_problems_not_exceptions(content, name):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for relative, text in BASE.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(text)
        target = root / (name.strip("/") or "x") / "fuzz.yaml"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return
        target.write_bytes(content)
        try:
            load_rulebook(root)
        except RulebookError as error:
            assert all("internal error" not in p.message for p in error.problems)
        assert check_rulebook(root).problems is not None
