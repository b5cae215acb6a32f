"""What reading a rulebook may cost: files too big are refused before they are read, and a
file with too many YAML values or aliases is refused while it is parsed."""

from __future__ import annotations

import shutil
import time

from app.rulebook import Limits, check_rulebook, check_rulebook_texts
from app.ruletests import run_rule_tests_in
from tests.conftest import SAMPLE_RULES


def test_the_sample_is_well_within_the_default_limits():
    result = check_rulebook(SAMPLE_RULES, limits=Limits())
    assert result.ok, result.problems
    assert run_rule_tests_in(result.rulebook, SAMPLE_RULES, limits=Limits()).ok


def test_a_file_too_big_is_refused_unread(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(SAMPLE_RULES, rules)
    (rules / "conduct" / "big.yaml").write_text("# padding\n" * 200_000)
    result = check_rulebook(rules, limits=Limits())
    assert [(p.file, p.message) for p in result.problems] == [
        (f"{rules}/conduct/big.yaml", "this file is 1.9 MB; a rule file may be at most 1.0 MB "
                                    "(setting RULES_MAX_FILE_BYTES)")]
    small = Limits(total_bytes=50_000)
    assert "add up to more than 50000 bytes" in str(check_rulebook(rules, limits=small).problems)
    (rules / "conduct" / "big.yaml").unlink()
    (rules / "tests" / "big.yaml").write_text("# padding\n" * 200_000)
    result = check_rulebook(rules, limits=Limits())
    report = run_rule_tests_in(result.rulebook, rules, limits=Limits())
    assert not report.ok and "at most 1.0 MB" in str(report.problems[0])


def test_too_many_values_or_aliases_are_refused_while_parsing():
    files = {p.relative_to(SAMPLE_RULES).as_posix(): p.read_text()
             for p in SAMPLE_RULES.rglob("*.yaml") if "tests" not in p.parts}
    many = "table: many\ndepartments: [court]\nrules: [" + "1, " * 60_000 + "1]\n"
    started = time.process_time()
    result = check_rulebook_texts({**files, "conduct/many.yaml": many}, limits=Limits())
    assert ("rules/conduct/many.yaml", 3, "more than 50000 YAML values (setting "
            "RULES_MAX_YAML_NODES, for all the files together): write fewer rows") in [
        (p.file, p.line, p.message) for p in result.problems]
    # The limit is on all the files together: four files of 15,000 values each.
    quarter = "table: q{}\ndepartments: [court]\nrules: [" + "1, " * 15_000 + "1]\n"
    result = check_rulebook_texts({**files, **{f"conduct/q{k}.yaml": quarter.format(k)
                                               for k in range(4)}}, limits=Limits())
    assert [p.file for p in result.problems if "more than 50000" in p.message][0] == \
        "rules/conduct/q3.yaml"
    assert time.process_time() - started < 30  # refused early, not after building it all
    aliases = ("table: a\ndepartments: [court]\nx: &x [1, 2]\nrules: ["
               + ", ".join(["*x"] * 101) + "]\n")
    result = check_rulebook_texts({**files, "conduct/aliases.yaml": aliases}, limits=Limits())
    assert any("more than 100 aliases" in p.message for p in result.problems)
    # Stored rulebooks (accepted before) are read with no limits.
    assert "more than" not in str(check_rulebook_texts({**files, "conduct/many.yaml": many})
                                  .problems)
