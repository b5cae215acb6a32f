"""The readable diff between two rulebooks: files and meaning."""

from __future__ import annotations

from pathlib import Path

from app.rulebook import check_rulebook, load_rulebook_from_texts
from app.rulebook.diff import diff

SAMPLE = Path(__file__).resolve().parents[2] / "rules"


def test_files_and_meaning():
    old_files = dict(check_rulebook(SAMPLE).rulebook.files)
    new_files = dict(old_files)
    new_files["scheme.yaml"] = old_files["scheme.yaml"].replace("min: 960", "min: 980")
    new_files["conduct/traffic.yaml"] = old_files["conduct/traffic.yaml"].replace(
        "points: -200", "points: -150").replace("# Drunk driving is a crime", "# Drunk driving!")
    new_files["measures.yaml"] = old_files["measures.yaml"].replace(
        "when: {tiers: [AAA]}", "when: {tiers: [AAA, AA]}")
    new_files["conduct/extra.yaml"] = (
        "table: extra\ndepartments: [court]\nrules:\n"
        "  - {code: EXTRA, title: Extra, points: -1, legal_basis: L, expires_after: 1y}\n")
    del new_files["conduct/villages.yaml"]
    result = diff(old_files, new_files, load_rulebook_from_texts(old_files),
                  load_rulebook_from_texts(new_files))
    assert list(result.changes) == [
        "tier A: min 960 → 980",
        "rule EXTRA added: version 1 -1, always",
        "rule TRAFFIC-DRUNK version 1: points -200 → -150",
        "rule VILLAGE-GOOD-DEED removed (it had 1 version)",
        "rule VILLAGE-MODEL-FAMILY removed (it had 1 version)",
        "measure HEATING-DISCOUNT: when tiers AAA → tiers AAA, AA",
    ]
    assert [(f.name, f.status) for f in result.files] == [
        ("conduct/extra.yaml", "added"), ("conduct/traffic.yaml", "changed"),
        ("conduct/villages.yaml", "removed"), ("measures.yaml", "changed"),
        ("scheme.yaml", "changed")]
    traffic = result.files[1].lines
    assert traffic[:2] == ("--- a/conduct/traffic.yaml", "+++ b/conduct/traffic.yaml")
    assert "-    points: -200" in traffic and "+    points: -150" in traffic
    assert any(line.startswith("+") and "Drunk driving!" in line for line in traffic)


def test_same_rulebook_has_no_diff():
    files = dict(check_rulebook(SAMPLE).rulebook.files)
    book = load_rulebook_from_texts(files)
    assert diff(files, files, book, book).same


def test_a_rulebook_that_no_longer_loads_still_gets_its_file_diff():
    files = dict(check_rulebook(SAMPLE).rulebook.files)
    broken = {**files, "scheme.yaml": "scheme: ["}
    result = diff(files, broken, load_rulebook_from_texts(files), None)
    assert result.changes == () and [f.name for f in result.files] == ["scheme.yaml"]
