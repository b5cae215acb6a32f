"""PURE rule tests: cases written beside the rules (`rules/tests/*.yaml`), run by the evaluator.

No Flask and no database: a rulebook and the test files' texts in, a report out.
"""

from app.ruletests.runner import (
    Failure,
    RuleTestReport,
    read_test_files,
    run_rule_tests,
    run_rule_tests_in,
)

__all__ = ["Failure", "RuleTestReport", "read_test_files", "run_rule_tests",
           "run_rule_tests_in"]
